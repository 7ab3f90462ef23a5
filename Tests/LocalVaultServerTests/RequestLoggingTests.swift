import Foundation
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import Synchronization
import Testing
import VaultAPI

@testable import LocalVaultServer

@Suite("Request logging")
struct RequestLoggingTests {
    @Test("one line per request with method, route template, status and duration; no secrets or names")
    func oneLinePerRequest() async throws {
        let handler = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in handler })
        let requestIDs = try await VaultHarness.run(logger: logger) { _, client in
            let created = try await client.createObject(name: "payroll-secret-name", value: "plaintext-value-xyz")
            let read = try await client.send(.get, "/vault/v1/kv/name/payroll-secret-name")
            let unauthorized = try await client.send(.get, "/vault/v1/kv", key: "sk_test_wrong_key_abc")
            let missing = try await client.send(.get, "/vault/v1/kv/\(created.id)/nope")
            return [read, unauthorized, missing].compactMap { $0.headers[HeaderName("x-request-id")!] }
        }
        #expect(requestIDs.count == 3 && Set(requestIDs).count == 3)

        let lines = handler.entries.filter { $0.level == .info }.map { "\($0.message)" }
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("POST /vault/v1/kv 201 ") && lines[0].hasSuffix("ms"))
        #expect(lines[1].hasPrefix("GET /vault/v1/kv/name/{name} 200 "))
        #expect(lines[2].hasPrefix("GET /vault/v1/kv 401 "))
        #expect(lines[3].hasPrefix("GET unmatched 404 ") || lines[3].hasPrefix("GET NotFound 404 "))

        // Each line carries the request id the client got back.
        let loggedIDs = handler.entries.filter { $0.level == .info }.compactMap { $0.metadata["hb.request.id"] }
        #expect(loggedIDs.map { "\($0)" }.suffix(3) == requestIDs)

        let everything = handler.entries.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
        for secret in [
            TestKeys.primary, "sk_test_wrong_key_abc", "payroll-secret-name", "plaintext-value-xyz", "Bearer",
        ] {
            #expect(!everything.contains(secret))
        }
    }
}

@Suite("Request log line")
struct RequestLogLineTests {
    @Test(
        "method, route template, status and the duration in tenths of a millisecond",
        arguments: [
            (Duration.zero, "0.0ms"), (.nanoseconds(49_999), "0.0ms"), (.nanoseconds(50_000), "0.1ms"),
            (.microseconds(340), "0.3ms"), (.microseconds(999), "1.0ms"), (.milliseconds(12), "12.0ms"),
            (.nanoseconds(1_234_567_890), "1234.6ms"), (.seconds(61), "61000.0ms"),
        ]
    )
    func format(elapsed: Duration, duration: String) {
        let line = RequestLoggingMiddleware.line(
            method: "POST",
            route: "/vault/v1/keys/decrypt",
            status: 200,
            elapsed: elapsed
        )
        #expect(line == "POST /vault/v1/keys/decrypt 200 \(duration)")
    }
}

@Suite("vault serve's log handler")
struct ServerLogHandlerTests {
    /// Lines a `StreamLogHandler` writes.
    final class Lines: TextOutputStream, Sendable {
        let lines = Mutex<[String]>([])
        func write(_ string: String) { lines.withLock { $0.append(string) } }
    }

    @Test("writes the lines StreamLogHandler writes, metadata from every source included")
    func sameLinesAsStreamLogHandler() throws {
        let stream = Lines()
        let written = Lines()
        let provider = Logger.MetadataProvider { ["provided": "p", "shared": "from provider"] }
        var reference = Logger(label: "vault") {
            StreamLogHandler(label: $0, stream: stream, metadataProvider: provider)
        }
        var fast = Logger(label: "vault") { label in
            ServerLogHandler(label: label, metadataProvider: provider) { written.write($0) }
        }
        reference[metadataKey: "hb.request.id"] = .stringConvertible(RequestID())
        fast[metadataKey: "hb.request.id"] = reference[metadataKey: "hb.request.id"]
        for var logger in [reference, fast] {
            logger.logLevel = .debug
            logger.info("POST /vault/v1/keys/data-key 200 0.3ms")
            logger.error("request failed", metadata: ["error": "VaultStoreError", "shared": "explicit"])
            logger.debug("nested", metadata: ["list": ["a", "b"], "map": ["k": "v"]])
            logger.trace("not written")
        }
        let expected = stream.lines.withLock { $0 }
        let actual = written.lines.withLock { $0 }
        #expect(expected.count == 3)
        // The timestamp (first field) may differ if the second turned between the two loggers.
        let strip = { (line: String) in line.drop { $0 != " " } }
        #expect(actual.map(strip) == expected.map(strip))
        for line in actual {
            let timestamp = line.prefix { $0 != " " }
            #expect(timestamp.count == 24 && timestamp.dropFirst(10).first == "T", "\(timestamp)")
            #expect(line.hasSuffix("\n"))
        }
    }

    @Test("the cached timestamp is the one strftime gives for the same second")
    func timestamp() {
        let now = time(nil)
        let cached = LocalTimestamp.current()
        #expect(cached == LocalTimestamp.format(now) || cached == LocalTimestamp.format(now + 1))
    }
}
