import ArgumentParser
import EnvelopeCrypto
import Foundation
import VaultAPI
import WorkOSVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vault-bench`: the Swift client's side of `Benchmarks/compare` (out of the shipped `vault` CLI).
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault-bench",
        abstract: "Measure this client against a Vault server (used by Benchmarks/compare).",
        subcommands: [E2E.self, Embedded.self, StringSeal.self, Blobs.self, BatchDecrypt.self]
    )

    /// The key context every measurement uses: one pair, as in the Python SDK measurements.
    static let context: KeyContext = ["organization_id": "org_bench"]

    /// ASCII text of exactly `size` bytes (a card number, repeated), so that the String API sees
    /// the byte count it is credited with; `Benchmarks/python` scripts build the same text.
    static func text(size: Int) -> String {
        String(String(repeating: "4242 4242 4242 4242 ", count: size / 20 + 1).prefix(size))
    }

    /// A client for the REST API only: without WORKOS_API_KEY `Vault()` would fall back to the
    /// embedded store and the figures would measure no server at all. Retries are off so that a
    /// failing server stops the run instead of slowing it down; no decrypt cache, so that every
    /// decrypt makes its request, as the Python SDK's does.
    static func remoteVault(encryptCache: DataKeyCachePolicy? = nil) throws -> Vault {
        let environment = ProcessInfo.processInfo.environment
        guard let apiKey = environment["WORKOS_API_KEY"], !apiKey.isEmpty,
            let baseURL = environment["WORKOS_BASE_URL"], !baseURL.isEmpty
        else { throw ValidationError("set WORKOS_API_KEY and WORKOS_BASE_URL to the server to measure") }
        do {
            let configuration = try RemoteConfiguration(
                apiKey: apiKey,
                baseURL: baseURL,
                requestTimeout: .seconds(10),
                retry: .none,
                caFile: environment[VaultConfiguration.caFileVariable].flatMap { $0.isEmpty ? nil : $0 }
            )
            return try Vault(
                configuration: VaultConfiguration(
                    backend: .remote(configuration),
                    encryptCache: encryptCache,
                    decryptCache: nil
                )
            )
        } catch let error as VaultError {
            throw failure(reporting: error)
        }
    }

    /// Runs `operation` for `warmup` seconds, then for `seconds`, from `tasks` tasks that each call
    /// it back to back.
    static func measure(
        seconds: Double,
        warmup: Double,
        tasks: Int = 1,
        _ operation: @escaping @Sendable () async throws -> Void
    ) async throws -> Measurement {
        _ = try await reportingErrors { try await callRepeatedly(operation, for: warmup, tasks: tasks) }
        let cpuBefore = ProcessCPUTime.now()
        let clock = ContinuousClock()
        let start = clock.now
        let operations = try await reportingErrors {
            try await callRepeatedly(operation, for: seconds, tasks: tasks)
        }
        return Measurement(
            operations: operations,
            seconds: Measurement.seconds(start.duration(to: clock.now)),
            cpuMicroseconds: ProcessCPUTime.now() - cpuBefore
        )
    }

    /// The calls completed. The clock is read between calls, so the last call of each task may
    /// end a little after the deadline; the caller times the whole run, so the rate stays exact.
    private static func callRepeatedly(
        _ operation: @escaping @Sendable () async throws -> Void,
        for seconds: Double,
        tasks: Int
    ) async throws -> Int {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int64(seconds * 1000))
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var completed = 0
                    while clock.now < deadline {
                        try await operation()
                        completed += 1
                    }
                    return completed
                }
            }
            return try await group.reduce(0, +)
        }
    }

    /// The options every bench command shares.
    struct Timing: ParsableArguments {
        @Option(help: "How long to measure each operation, in seconds.")
        var seconds = 3.0

        @Option(help: "Unmeasured calls before each measurement, in seconds.")
        var warmup = 0.5

        @Option(help: "The plaintext size, in bytes (ASCII text).")
        var size = 64

        func validate() throws {
            guard seconds > 0, seconds <= 600 else {
                throw ValidationError("--seconds must be above 0 and at most 600")
            }
            guard warmup >= 0, warmup <= 60 else { throw ValidationError("--warmup must be 0 to 60") }
            guard (0...1 << 20).contains(size) else { throw ValidationError("--size must be 0 to 1048576") }
        }
    }
}

extension Bench {
    /// `vault bench e2e`: `Vault.encrypt` and `Vault.decrypt` of small text through a real server,
    /// timed the way `Benchmarks/python/sdk_e2e.py` times the official Python SDK, so that the two
    /// print lines that compare directly.
    struct E2E: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "e2e",
            abstract: "Time end-to-end encrypt and decrypt calls against the server at WORKOS_BASE_URL.",
            discussion: """
                Every call makes one request (POST /keys/data-key to encrypt, POST /keys/decrypt to \
                decrypt) and does the AES-GCM work here, exactly as an application would. Decrypt \
                calls open a blob made once at the start and check the plaintext they get. A \
                warm-up, not measured, opens the connections first. With --encrypt-cache, encrypt \
                calls reuse a data key under the default DataKeyCachePolicy (a request per 1,000 \
                messages or 60 s) instead of making a request each.

                Prints one line per operation on standard output:
                  e2e NAME OPS_PER_SECOND CPU_MICROSECONDS_PER_OPERATION
                where NAME is encrypt-SIZEb or decrypt-SIZEb (with -cN appended when --concurrency \
                N > 1, and -cached with --encrypt-cache) and CPU is this process's user plus system \
                time (getrusage, every thread, libcurl's included) divided by the operations completed.

                Examples:
                  VAULT_API_KEYS=sk_test_bench vault serve --rate-limit 1000000000 &
                  WORKOS_API_KEY=sk_test_bench WORKOS_BASE_URL=http://127.0.0.1:8080 \\
                    vault bench e2e --seconds 5 --concurrency 8
                  WORKOS_API_KEY=sk_test_bench WORKOS_BASE_URL=http://127.0.0.1:8080 \\
                    vault bench e2e --size 1048576
                  WORKOS_API_KEY=sk_test_bench WORKOS_BASE_URL=http://127.0.0.1:8080 \\
                    vault bench e2e --encrypt-cache --operations encrypt
                """
        )

        /// Which operations to time.
        enum Operations: String, ExpressibleByArgument, CaseIterable {
            case both, encrypt, decrypt
        }

        @OptionGroup var timing: Timing

        @Option(help: "Calls in flight at once; 1 makes sequential calls, as a plain loop would.")
        var concurrency = 1

        @Option(help: "The operations to time: both, encrypt or decrypt.")
        var operations = Operations.both

        @Flag(help: "Reuse data keys for encryption under the default DataKeyCachePolicy().")
        var encryptCache = false

        func validate() throws {
            guard (1...1_024).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 1024") }
        }

        func run() async throws {
            let vault = try Bench.remoteVault(encryptCache: encryptCache ? DataKeyCachePolicy() : nil)
            let expected = Bench.text(size: timing.size)
            let context = Bench.context
            let suffix = "-\(timing.size)b" + (concurrency > 1 ? "-c\(concurrency)" : "")

            if operations != .decrypt {
                let encryption = try await measure {
                    _ = try await vault.encrypt(expected, context: context)
                }
                printLine(encryption.line(source: "e2e", name: "encrypt" + suffix + (encryptCache ? "-cached" : "")))
            }

            guard operations != .encrypt else { return }
            let blob = try await reportingErrors { try await vault.encrypt(expected, context: context) }
            let decryption = try await measure {
                guard try await vault.decrypt(blob) == expected else {
                    throw VaultError(.decryptionFailed, "the blob decrypted to something else")
                }
            }
            printLine(decryption.line(source: "e2e", name: "decrypt" + suffix))
        }

        private func measure(_ operation: @escaping @Sendable () async throws -> Void) async throws -> Measurement {
            try await Bench.measure(
                seconds: timing.seconds,
                warmup: timing.warmup,
                tasks: concurrency,
                operation
            )
        }
    }

    /// `vault bench embedded`: `Vault.encrypt` through the embedded resolver, the LocalVault engine
    /// in this process: a fresh data key per message, wrapped under the context's KEK, no network.
    struct Embedded: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "embedded",
            abstract: "Time encrypt calls through the embedded resolver (no network, a data key per message).",
            discussion: """
                Each call is Vault.encrypt(String, context:) on a client configured with \
                .embedded(dataDirectory:) and no caches: the LocalVault engine in this process draws \
                a new data key, wraps it under the context's KEK, and the text is sealed with it and \
                returned as base64. The data folder is a new one under $TMPDIR (removed at the end) \
                unless --data-dir names one. Before timing, one blob is decrypted and checked, and \
                two blobs are checked to carry different data keys.

                Prints on standard output:
                  embedded encrypt-SIZEb OPS_PER_SECOND CPU_MICROSECONDS_PER_OPERATION

                Examples:
                  vault bench embedded --size 64
                  vault bench embedded --size 1048576 --seconds 2 --data-dir /tmp/vault-bench
                """
        )

        @OptionGroup var timing: Timing

        @Option(help: "The data folder of the embedded store (default: a new temporary folder).")
        var dataDir: String?

        func run() async throws {
            let directory = try dataDir ?? Self.makeTemporaryDirectory()
            defer { if dataDir == nil { try? FileManager.default.removeItem(atPath: directory) } }
            let vault: Vault
            do {
                vault = try Vault(
                    configuration: VaultConfiguration(
                        backend: .embedded(dataDirectory: directory),
                        encryptCache: nil,
                        decryptCache: nil
                    )
                )
            } catch let error as VaultError {
                throw failure(reporting: error)
            }
            let text = Bench.text(size: timing.size)
            let context = Bench.context
            try await reportingErrors {
                let first = try await vault.encrypt(text, context: context)
                let second = try await vault.encrypt(text, context: context)
                guard try await vault.decrypt(first) == text else {
                    throw VaultError(.decryptionFailed, "the blob decrypted to something else")
                }
                guard
                    try EnvelopeBlob(base64Encoded: first).encryptedKeys
                        != EnvelopeBlob(base64Encoded: second).encryptedKeys
                else { throw VaultError(.configuration, "two messages shared a data key") }
            }
            let encryption = try await Bench.measure(seconds: timing.seconds, warmup: timing.warmup) {
                _ = try await vault.encrypt(text, context: context)
            }
            printLine(encryption.line(source: "embedded", name: "encrypt-\(timing.size)b"))
        }

        private static func makeTemporaryDirectory() throws -> String {
            let parent = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            var template = Array("\(parent)/vault-bench-embedded.XXXXXX".utf8CString)
            guard let path = mkdtemp(&template) else {
                throw ValidationError("cannot create a temporary folder in \(parent)")
            }
            return String(cString: path)
        }
    }

    /// `vault bench string`: the String API with a known data key, the local part of every encrypt
    /// (no key service, no network).
    struct StringSeal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "string",
            abstract: "Time EnvelopeBlob.sealedBase64(String) with a known data key (local, no network).",
            discussion: """
                Each call seals ASCII text of --size bytes into base64 text with \
                EnvelopeBlob.sealedBase64(_:with:encryptedKeys:) under one known data key and a fresh \
                random IV, with a 180-byte encrypted_keys (the shape of a WorkOS one): what \
                Vault.encrypt does once it has a data key. The result is opened and checked once before timing. Calls run in \
                batches, the clock read between batches.

                Prints on standard output:
                  string encrypt-SIZEb OPS_PER_SECOND CPU_MICROSECONDS_PER_OPERATION

                Example:
                  vault bench string --size 1048576 --seconds 2
                """
        )

        @OptionGroup var timing: Timing

        func run() throws {
            let text = Bench.text(size: timing.size)
            let key = try DataKey.generate()
            var generator = SystemRandomNumberGenerator()
            let encryptedKeys =
                KeysBlobPrefix.workOS + (0..<169).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let sample = try EnvelopeBlob.sealedBase64(text, with: key, encryptedKeys: encryptedKeys)
            guard try EnvelopeBlob(base64Encoded: sample).openString(with: key) == text else {
                throw ValidationError("the blob opened to something else")
            }
            let seal = {
                blackHole(try EnvelopeBlob.sealedBase64(text, with: key, encryptedKeys: encryptedKeys))
            }
            _ = try Self.run(for: timing.warmup, seal)
            let cpuBefore = ProcessCPUTime.now()
            let (operations, seconds) = try Self.run(for: timing.seconds, seal)
            let measurement = Measurement(
                operations: operations,
                seconds: seconds,
                cpuMicroseconds: ProcessCPUTime.now() - cpuBefore
            )
            printLine(measurement.line(source: "string", name: "encrypt-\(timing.size)b"))
        }

        /// Runs `operation` in batches that double until one lasts about 10 ms, for `seconds`;
        /// returns the operations and the seconds they took.
        private static func run(for seconds: Double, _ operation: () throws -> Void) throws -> (Int, Double) {
            let clock = ContinuousClock()
            let start = clock.now
            var batch = 1
            var operations = 0
            var elapsed = 0.0
            repeat {
                let batchStart = clock.now
                for _ in 0..<batch { try operation() }
                let batchEnd = clock.now
                operations += batch
                elapsed = Measurement.seconds(start.duration(to: batchEnd))
                if batchStart.duration(to: batchEnd) < .milliseconds(10) { batch *= 2 }
            } while elapsed < seconds
            return (operations, elapsed)
        }
    }

    /// `vault bench blobs`: blobs for `vault bench batch-decrypt`, each under its own data key.
    struct Blobs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "blobs",
            abstract: "Encrypt --count blobs through the server at WORKOS_BASE_URL, each with its own data key.",
            discussion: """
                Uses Vault.encrypt(many:) with no encrypt cache, so every blob has a data key of its \
                own, and prints the base64 blobs on standard output, one a line.

                Example:
                  WORKOS_API_KEY=sk_test_bench WORKOS_BASE_URL=http://127.0.0.1:8080 \\
                    vault bench blobs --count 10000 --size 64 > blobs.txt
                """
        )

        @Option(help: "How many blobs to make.")
        var count = 10_000

        @Option(help: "The plaintext size, in bytes (ASCII text).")
        var size = 64

        func validate() throws {
            guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be 1 to 1000000") }
            guard (0...1 << 20).contains(size) else { throw ValidationError("--size must be 0 to 1048576") }
        }

        func run() async throws {
            let vault = try Bench.remoteVault()
            let item = Vault.EncryptItem(Bench.text(size: size), context: Bench.context)
            var output = ""
            for result in await vault.encrypt(many: Array(repeating: item, count: count)) {
                switch result {
                case .success(let blob): output += blob + "\n"
                case .failure(let error): throw failure(reporting: error)
                }
            }
            FileHandle.standardOutput.write(Data(output.utf8))
        }
    }

    /// `vault bench batch-decrypt`: `Vault.decrypt(many:)` over blobs that each have their own key.
    struct BatchDecrypt: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "batch-decrypt",
            abstract: "Time Vault.decrypt(many:) over a file of blobs against the server at WORKOS_BASE_URL.",
            discussion: """
                Reads base64 blobs, one a line (as `vault bench blobs` writes them), decrypts the \
                first 256 once as a warm-up, then decrypts all of them with decrypt(many:) in passes \
                until --seconds have passed (one pass at least), checking every result against the \
                text of --size bytes. No decrypt cache: every blob has its own data key, so a cache \
                could not hit, and every pass makes the same requests (one per blob).

                Prints on standard output:
                  batch decrypt-many-COUNT BLOBS_PER_SECOND CPU_MICROSECONDS_PER_BLOB
                  batch peak-rss-kib KIB
                where the peak RSS is getrusage's ru_maxrss for this process over its whole life.

                Example:
                  WORKOS_API_KEY=sk_test_bench WORKOS_BASE_URL=http://127.0.0.1:8080 \\
                    vault bench batch-decrypt --blobs blobs.txt --size 64
                """
        )

        @Option(help: "The file of base64 blobs, one a line.", completion: .file())
        var blobs: String

        @Option(help: "The plaintext size the blobs were made with, in bytes.")
        var size = 64

        @Option(help: "Key requests in flight at once (decrypt(many:)'s maxConcurrentRequests).")
        var concurrency = 32

        @Option(help: "Keep making passes over the blobs until this many seconds have passed.")
        var seconds = 1.0

        func validate() throws {
            guard (1...1_024).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 1024") }
            guard seconds >= 0, seconds <= 600 else { throw ValidationError("--seconds must be 0 to 600") }
        }

        func run() async throws {
            let vault = try Bench.remoteVault()
            guard let contents = try? String(contentsOfFile: blobs, encoding: .utf8) else {
                throw ValidationError("cannot read \(blobs)")
            }
            let items = contents.split(separator: "\n").map(String.init)
            guard !items.isEmpty else { throw ValidationError("\(blobs) holds no blobs") }
            let expected = Bench.text(size: size)

            try await decryptAll(Array(items.prefix(256)), vault: vault, expected: expected)
            let cpuBefore = ProcessCPUTime.now()
            let clock = ContinuousClock()
            let start = clock.now
            var decrypted = 0
            repeat {
                try await decryptAll(items, vault: vault, expected: expected)
                decrypted += items.count
            } while Measurement.seconds(start.duration(to: clock.now)) < seconds
            let measurement = Measurement(
                operations: decrypted,
                seconds: Measurement.seconds(start.duration(to: clock.now)),
                cpuMicroseconds: ProcessCPUTime.now() - cpuBefore
            )
            printLine(measurement.line(source: "batch", name: "decrypt-many-\(items.count)"))
            printLine("batch peak-rss-kib \(ProcessCPUTime.peakResidentKibibytes())")
        }

        private func decryptAll(_ items: [String], vault: Vault, expected: String) async throws {
            for result in await vault.decrypt(many: items, maxConcurrentRequests: concurrency) {
                switch result {
                case .success(let text) where text == expected: continue
                case .success:
                    throw failure(reporting: VaultError(.decryptionFailed, "a blob decrypted to something else"))
                case .failure(let error): throw failure(reporting: error)
                }
            }
        }
    }

    /// One operation's figures.
    struct Measurement {
        var operations: Int
        var seconds: Double
        var cpuMicroseconds: Double

        /// `SOURCE NAME OPS_PER_SECOND CPU_MICROSECONDS_PER_OPERATION`
        func line(source: String, name: String) -> String {
            let perSecond = seconds > 0 ? Double(operations) / seconds : 0
            let cpuPerOperation = operations > 0 ? cpuMicroseconds / Double(operations) : 0
            return "\(source) \(name) \(String(format: "%.1f", perSecond)) \(String(format: "%.1f", cpuPerOperation))"
        }

        static func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
    }
}

/// Keeps a result alive without the optimiser seeing what happens to it.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// CPU time and memory used by the whole process: a client's cost per request includes its
/// transport thread, which a per-thread clock would miss.
enum ProcessCPUTime {
    /// User plus system time so far, in microseconds.
    static func now() -> Double {
        guard let usage = usage() else { return 0 }
        return microseconds(usage.ru_utime) + microseconds(usage.ru_stime)
    }

    /// The largest resident set so far (`ru_maxrss`), in KiB.
    static func peakResidentKibibytes() -> Int {
        guard let usage = usage() else { return 0 }
        #if canImport(Darwin)
        return Int(usage.ru_maxrss) / 1024  // bytes on Darwin
        #else
        return Int(usage.ru_maxrss)  // KiB on Linux
        #endif
    }

    private static func usage() -> rusage? {
        var usage = rusage()
        #if canImport(Glibc)
        // Glibc's headers give RUSAGE_SELF as an enum case but take the int it stands for.
        let who = __rusage_who_t(RUSAGE_SELF.rawValue)
        #else
        let who = RUSAGE_SELF
        #endif
        return getrusage(who, &usage) == 0 ? usage : nil
    }

    private static func microseconds(_ time: timeval) -> Double {
        Double(time.tv_sec) * 1e6 + Double(time.tv_usec)
    }
}

/// Runs `body`; a ``VaultError`` becomes its message on standard error and exit status 1.
func reportingErrors<Result>(_ body: () async throws -> Result) async throws -> Result {
    do {
        return try await body()
    } catch let error as VaultError {
        throw failure(reporting: error)
    }
}

/// Prints the error's message (never a secret) and returns exit status 1 to throw.
func failure(reporting error: VaultError) -> ExitCode {
    FileHandle.standardError.write(Data("vault-bench: \(error.message)\n".utf8))
    return ExitCode(1)
}

/// One line on standard output.
func printLine(_ text: String) {
    print(text)
}
