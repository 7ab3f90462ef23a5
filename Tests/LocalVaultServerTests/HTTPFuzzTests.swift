import Foundation
import InMemoryLogging
import Logging
import Testing

@testable import LocalVaultServer

/// Drives a live `vault serve` application with random bytes, random request heads and random
/// JSON bodies for a bounded time: no request may crash the server or get a 5xx (a healthy
/// temporary store has no storage failures, the only cause of a 500), and nothing may be logged
/// at error level. `VAULT_HTTP_FUZZ_SECONDS` sets the time (3 s by default, which CI runs),
/// `VAULT_HTTP_FUZZ_SEED` replays a run; a failure prints the seed and the case.
@Suite("HTTP fuzzing")
struct HTTPFuzzTests {
    static var duration: Duration {
        let seconds = ProcessInfo.processInfo.environment["VAULT_HTTP_FUZZ_SECONDS"].flatMap(Double.init) ?? 3
        return .milliseconds(Int(seconds * 1_000))
    }

    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["VAULT_HTTP_FUZZ_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: .min ... .max)
    }

    @Test("random bytes, heads and JSON bodies: no crash, no 5xx, no error logged", .timeLimit(.minutes(60)))
    func randomRequests() async throws {
        let seed = Self.seed
        let duration = Self.duration
        let handler = InMemoryLogHandler()
        let logger = Logger(label: "fuzz", factory: { _ in handler })
        let limits = ConnectionLimits(readTimeout: .seconds(1), idleTimeout: .seconds(1))
        let cases = try await GuardedServer.run(limits: limits, logger: logger) { port in
            var generator = RequestGenerator(seed: seed)
            let deadline = ContinuousClock.now + duration
            var cases = 0
            while ContinuousClock.now < deadline {
                cases += 1
                let request = generator.next()
                let socket = try await RawSocket.connect(port: port, timeout: .seconds(10))
                for piece in request.pieces { guard await socket.send(piece) else { break } }
                if request.halfClose { socket.shutdownWrite() }
                // Up to the first complete response, or the server's close (a request that
                // never completes is closed by the read timeout).
                let (bytes, _) = await socket.receive(until: RawResponse.isComplete)
                socket.close()
                if let status = Self.statuses(in: bytes).first(where: { $0 >= 500 }) {
                    Issue.record(
                        "status \(status) for case \(cases) of seed \(seed) (VAULT_HTTP_FUZZ_SEED=\(seed)): \(request.summary)"
                    )
                    break
                }
            }
            let response = try #require(await GuardedServer.listObjects(port: port), "seed \(seed)")
            #expect(response.status == 200, "the server no longer answers; seed \(seed)")
            return cases
        }
        let errors = handler.entries.filter { $0.level >= .error }
        #expect(errors.isEmpty, "logged at error level with seed \(seed): \(errors.prefix(3))")
        #expect(cases > 0)
        print("HTTP fuzzing: \(cases) requests, seed \(seed)")
    }

    /// The status codes of every response in `bytes`.
    static func statuses(in bytes: [UInt8]) -> [Int] {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.components(separatedBy: "HTTP/1.1 ").dropFirst().compactMap { Int($0.prefix(3)) }
    }
}

/// SplitMix64: small, fast, and the same sequence for the same seed everywhere.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random requests, from raw noise to well-formed calls with hostile JSON.
struct RequestGenerator {
    struct FuzzRequest {
        /// The bytes, in the pieces they are sent in.
        var pieces: [[UInt8]]
        /// Whether the client ends its side after sending.
        var halfClose: Bool
        /// What the case was, for a failure message (never more than its start).
        var summary: String
    }

    private var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    static let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "G\u{1}T", "", "POST POST"]
    static let paths = [
        "/vault/v1/keys/data-key", "/vault/v1/keys/decrypt", "/vault/v1/keys/rekey", "/vault/v1/kv",
        "/vault/v1/kv/name/a%00b", "/vault/v1/kv/secret_1", "/vault/v1/kv/%ZZ/metadata", "/vault/v1/kv/x/versions",
        "/vault/v1/kv?limit=-1&order=sideways&before=%FF", "/", "*", "/vault/v1/../../etc/passwd",
        "/vault/v1/kv/\u{7F}",
    ]
    static let headerNames = [
        "Content-Type", "Content-Length", "Transfer-Encoding", "Authorization", "Idempotency-Key", "Connection",
        "Expect", "Host", "X-Request-Id", "Bad Name", "Ünicode", "", ":authority",
    ]
    static let fieldNames = [
        "context", "keys", "encrypted_keys", "name", "value", "key_context", "version_check", "organization_id",
    ]

    mutating func next() -> FuzzRequest {
        switch int(4) {
        case 0: return noise()
        case 1: return randomHead()
        default: return validCall()
        }
    }

    private mutating func int(_ upperBound: Int) -> Int { Int.random(in: 0..<upperBound, using: &random) }
    private mutating func chance(_ percent: Int) -> Bool { int(100) < percent }
    private mutating func pick<T>(_ values: [T]) -> T { values[int(values.count)] }

    private mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    private mutating func noise() -> FuzzRequest {
        let bytes = bytes(int(600))
        return FuzzRequest(pieces: split(bytes), halfClose: chance(50), summary: "\(bytes.count) random bytes")
    }

    private mutating func randomHead() -> FuzzRequest {
        var head =
            "\(pick(Self.methods)) \(pick(Self.paths)) \(pick(["HTTP/1.1", "HTTP/1.0", "HTTP/9.9", "", "http/1.1"]))\r\n"
        for _ in 0..<int(8) {
            let value =
                chance(30) ? randomString(maxLength: 40) : pick(["chunked", "100-continue", "close", "-1", "1"])
            head += "\(pick(Self.headerNames)): \(value)\r\n"
        }
        if chance(50) { head += "Authorization: Bearer \(TestKeys.primary)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if chance(50) { bytes += chance(50) ? Array(randomJSON(depth: 0).utf8) : self.bytes(int(300)) }
        return FuzzRequest(pieces: split(bytes), halfClose: chance(30), summary: "random head: \(head.prefix(120))")
    }

    private mutating func validCall() -> FuzzRequest {
        let method = pick(["POST", "POST", "PUT", "GET", "DELETE"])
        let path = pick(Self.paths.prefix(8).map { $0 })
        let body = Array((chance(70) ? randomCallBody() : randomJSON(depth: 0)).utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(TestKeys.primary)\r\n"
        head += "Content-Type: application/json\r\n"
        if chance(20) { head += "Idempotency-Key: \(randomString(maxLength: 20))\r\n" }
        var bytes: [UInt8]
        if chance(20) {
            // Chunked, sometimes with a broken chunk size.
            let size = chance(80) ? String(body.count, radix: 16) : pick(["ZZ", "-1", "ffffffffffffffffff", ""])
            bytes =
                Array((head + "Transfer-Encoding: chunked\r\n\r\n\(size)\r\n").utf8) + body
                + Array("\r\n0\r\n\r\n".utf8)
        } else {
            let length = chance(90) ? body.count : body.count + int(50) - 25
            bytes = Array((head + "Content-Length: \(length)\r\n\r\n").utf8) + body
        }
        let cut = chance(10) ? int(bytes.count + 1) : bytes.count
        return FuzzRequest(
            pieces: split(Array(bytes.prefix(cut))),
            halfClose: cut < bytes.count || chance(10),
            summary: "\(method) \(path) with \(body.count) bytes of JSON"
        )
    }

    /// A body shaped like the endpoints' own, with random values in it.
    private mutating func randomCallBody() -> String {
        var fields: [String] = []
        for _ in 0..<(1 + int(4)) {
            let name = pick(Self.fieldNames)
            let value =
                switch int(4) {
                case 0: randomJSON(depth: 1)
                case 1: randomContext()
                default: jsonString(randomString(maxLength: 60))
                }
            fields.append("\(jsonString(name)):\(value)")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    private mutating func randomContext() -> String {
        let pairs = (0..<int(12)).map { _ in
            "\(jsonString(chance(50) ? "organization_id" : randomString(maxLength: 130))):"
                + (chance(85) ? jsonString(randomString(maxLength: 60)) : randomJSON(depth: 2))
        }
        return "{" + pairs.joined(separator: ",") + "}"
    }

    private mutating func randomJSON(depth: Int) -> String {
        switch depth > 3 ? int(5) : int(8) {
        case 0: return "null"
        case 1: return pick(["true", "false"])
        case 2: return pick(["0", "-1", "1e400", "3.14", "-0", "12345678901234567890123"])
        case 3, 4: return jsonString(randomString(maxLength: 80))
        case 5: return pick(["{", "[1,", "\"unterminated", "{\"a\":}", "nul", "\"\\ud800\"", "{\"a\":1,\"a\":2}"])
        case 6: return "[" + (0..<int(5)).map { _ in randomJSON(depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            let members = (0..<int(5)).map { _ in
                "\(jsonString(chance(50) ? pick(Self.fieldNames) : randomString(maxLength: 10))):\(randomJSON(depth: depth + 1))"
            }
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    /// Text with the characters parsers trip on: controls, quotes, backslashes, non-ASCII,
    /// noncharacters, NUL.
    private mutating func randomString(maxLength: Int) -> String {
        let alphabet: [Unicode.Scalar] = [
            "a", "Z", "0", "_", "-", " ", "\"", "\\", "/", "%", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "é", "\u{FFFF}",
            "\u{FEFF}", "\u{202E}", "😀", "\r", "\n", ":",
        ]
        var text = String.UnicodeScalarView()
        for _ in 0..<int(maxLength + 1) { text.append(pick(alphabet)) }
        return String(text)
    }

    private func jsonString(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])
        let array = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
        return String(array.dropFirst().dropLast())
    }

    /// Splits bytes in one to three pieces, so that the server also sees requests in parts.
    private mutating func split(_ bytes: [UInt8]) -> [[UInt8]] {
        guard bytes.count > 2, chance(30) else { return [bytes] }
        let cut = 1 + int(bytes.count - 1)
        return [Array(bytes[..<cut]), Array(bytes[cut...])]
    }
}
