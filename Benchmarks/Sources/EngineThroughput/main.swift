// Timed loops over EnvelopeCrypto's public API for `Benchmarks/compare`, which sets them against a
// plain C EVP loop and `openssl speed` in the same run.
//
// Usage: EngineThroughput [--seconds S] [--warmup S] [CASE...]
//
// Prints one line per case: `engine NAME OPS_PER_S MB_PER_S`, where MB is 10^6 plaintext bytes
// (the unit `openssl speed` uses) and NAME is one of the cases listed below. Every case uses a
// known data key (no key-service round trip) and a fresh random IV per seal, as the API always does.

import EnvelopeCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Seconds on the monotonic clock: wall-clock adjustments must not stretch or shrink a run.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Keeps a result alive without the optimiser seeing what happens to it.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// Runs `operation` until `seconds` have passed and returns operations per second.
///
/// Operations run in batches that double until one lasts about 10 ms, so the clock is read a few
/// hundred times per run rather than once per 0.3 us operation.
func operationsPerSecond(for seconds: Double, _ operation: () throws -> Void) rethrows -> Double {
    var batch = 1
    var operations = 0
    let start = monotonicSeconds()
    var elapsed = 0.0
    repeat {
        let batchStart = monotonicSeconds()
        for _ in 0..<batch { try operation() }
        let batchEnd = monotonicSeconds()
        operations += batch
        elapsed = batchEnd - start
        if batchEnd - batchStart < 0.01 { batch *= 2 }
    } while elapsed < seconds
    return Double(operations) / elapsed
}

/// One payload size, sealed once up front so that open cases measure opening only.
struct Fixture {
    let plaintext: [UInt8]
    let text: String
    let key: DataKey
    let encryptedKeys: [UInt8]
    let blob: EnvelopeBlob
    let textBlob: EnvelopeBlob

    init(count: Int) throws {
        var generator = SystemRandomNumberGenerator()
        plaintext = (0..<count).map { _ in generator.next() }
        // Printable ASCII, so the String API sees the byte count it is credited with.
        text = String(
            decoding: (0..<count).map { _ in UInt8.random(in: 0x21...0x7E, using: &generator) },
            as: UTF8.self
        )
        key = try DataKey.generate()
        // The shape of a real WorkOS `encrypted_keys`: its ASCII tag, then about 170 opaque bytes.
        encryptedKeys = KeysBlobPrefix.workOS + (0..<169).map { _ in generator.next() }
        blob = try EnvelopeBlob.seal(plaintext, with: key, encryptedKeys: encryptedKeys)
        textBlob = try EnvelopeBlob.seal(text, with: key, encryptedKeys: encryptedKeys, associatedData: nil)
        // A benchmark of a broken round trip would be meaningless: check it before timing anything.
        guard try blob.open(with: key) == plaintext, try textBlob.openString(with: key) == text else {
            fatalError("round trip failed for \(count) bytes")
        }
    }
}

struct Case {
    let name: String
    let byteCount: Int
    let operation: () throws -> Void
}

func cases() throws -> [Case] {
    var cases: [Case] = []
    for (suffix, count) in [("64b", 64), ("1kib", 1024), ("16kib", 16 * 1024), ("1mib", 1024 * 1024)] {
        let fixture = try Fixture(count: count)
        cases.append(
            Case(name: "seal-\(suffix)", byteCount: count) {
                blackHole(
                    try EnvelopeBlob.seal(fixture.plaintext, with: fixture.key, encryptedKeys: fixture.encryptedKeys)
                )
            }
        )
        cases.append(
            Case(name: "open-\(suffix)", byteCount: count) {
                blackHole(try fixture.blob.open(with: fixture.key))
            }
        )
        guard count == 64 else { continue }
        // The String API at the size of a typical secret, the path the official SDKs expose.
        cases.append(
            Case(name: "string-seal-\(suffix)", byteCount: count) {
                blackHole(
                    try EnvelopeBlob.seal(
                        fixture.text,
                        with: fixture.key,
                        encryptedKeys: fixture.encryptedKeys,
                        associatedData: nil
                    )
                )
            }
        )
        cases.append(
            Case(name: "string-open-\(suffix)", byteCount: count) {
                blackHole(try fixture.textBlob.openString(with: fixture.key))
            }
        )
    }
    return cases
}

/// `value` with exactly two decimals, without pulling Foundation in for `String(format:)`.
func twoDecimals(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// A usage mistake is not a crash: say what was wrong and exit with status 2, no stack trace.
func exitWithUsageError(_ message: String) -> Never {
    var line = "EngineThroughput: \(message)\nusage: EngineThroughput [--seconds S] [--warmup S] [CASE...]\n"
    line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(2)
}

func main() throws {
    var seconds = 1.5
    var warmup = 0.3
    var selected: [String] = []
    var arguments = CommandLine.arguments.dropFirst()
    while let argument = arguments.popFirst() {
        switch argument {
        case "--seconds", "--warmup":
            guard let value = arguments.popFirst().flatMap(Double.init), value > 0 else {
                exitWithUsageError("\(argument) needs a positive number of seconds")
            }
            if argument == "--seconds" { seconds = value } else { warmup = value }
        default:
            selected.append(argument)
        }
    }

    let all = try cases()
    let unknown = selected.filter { name in !all.contains { $0.name == name } }
    guard unknown.isEmpty else {
        exitWithUsageError("unknown case(s) \(unknown); known: \(all.map(\.name).joined(separator: " "))")
    }
    for benchmark in all where selected.isEmpty || selected.contains(benchmark.name) {
        // Warm-up fills caches, the IV pool and malloc's free lists before the timed run.
        _ = try operationsPerSecond(for: warmup, benchmark.operation)
        let operations = try operationsPerSecond(for: seconds, benchmark.operation)
        let megabytes = operations * Double(benchmark.byteCount) / 1e6
        print("engine \(benchmark.name) \(Int(operations.rounded())) \(twoDecimals(megabytes))")
        fflush(nil)  // each line as it is measured, when stdout is a pipe too
    }
}

try main()
