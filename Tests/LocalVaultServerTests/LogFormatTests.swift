import Foundation
import InMemoryLogging
import Logging
import Synchronization
import Testing

@testable import LocalVaultServer

/// The request line's actor id, and `--log-format json`.
@Suite struct LogFormatTests {
    @Test("the request line carries the API key's id as actor_id; unauthenticated lines carry none")
    func actorID() async throws {
        let handler = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in handler })
        try await VaultHarness.run(logger: logger) { _, client in
            _ = try await client.send(.get, "/vault/v1/kv")
            _ = try await client.send(.get, "/vault/v1/kv", key: TestKeys.secondary)
            _ = try await client.send(.get, "/vault/v1/kv", key: "sk_test_wrong_key_abc")
            _ = try await client.send(.get, "/health", key: nil)
        }
        let ring = try APIKeyRing(entries: TestKeys.entries)
        let id = { (secret: String) in ring.keys.first { $0.actor.name.hasSuffix(secret.suffix(4)) }?.id }
        let lines = handler.entries.filter { $0.level == .info }
        #expect(lines.count == 4)
        #expect(
            lines.map { $0.metadata["actor_id"].map { "\($0)" } } == [
                id(TestKeys.primary), id(TestKeys.secondary), nil, nil,
            ]
        )
        #expect(id(TestKeys.primary)?.hasPrefix("key_") == true)
        let everything = handler.entries.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
        for secret in [TestKeys.primary, TestKeys.secondary, "sk_test_wrong_key_abc"] {
            #expect(!everything.contains(secret))
        }
    }

    @Test("a JSON line is one object with the text line's fields, whatever the characters in it")
    func jsonLine() throws {
        let written = Mutex<[String]>([])
        var logger = Logger(label: "vault") { label in
            var handler = ServerLogHandler(label: label) { line in written.withLock { $0.append(line) } }
            handler.format = .json
            return handler
        }
        logger[metadataKey: "hb.request.id"] = "r1"
        let awkward = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} é 日本 \u{2028}"
        logger.warning(
            "\(awkward)",
            metadata: ["awkward": "\(awkward)", "list": ["a", "b"], "map": ["k": "v"], "actor_id": "key_1"]
        )
        let lines = written.withLock { $0 }
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.hasSuffix("}\n") && line.dropLast().allSatisfy { $0 != "\n" })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["timestamp", "level", "label", "metadata", "source", "message"])
        #expect(object["level"] as? String == "warning")
        #expect(object["label"] as? String == "vault")
        #expect(object["message"] as? String == awkward)
        #expect((object["timestamp"] as? String)?.count == 24)
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["awkward"] as? String == awkward)
        #expect(metadata["hb.request.id"] as? String == "r1")
        #expect(metadata["actor_id"] as? String == "key_1")
        #expect(metadata["list"] as? [String] == ["a", "b"])
        #expect(metadata["map"] as? [String: String] == ["k": "v"])
    }
}

/// `vault serve --log-format json` as a process.
@Suite(.enabled(if: VaultProcess.binary != nil || isCI, "the vault executable is not built (swift build)"))
struct JSONLogProcessTests {
    static let key = "sk_test_json_logs_0001"

    @Test("every line of standard error is a JSON object; request lines carry the actor id, never the key")
    func jsonLines() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await VaultProcess.serve(
                dataDirectory: directory,
                apiKeys: Self.key,
                arguments: ["--log-format", "json"]
            )
            defer { server.stop() }
            let port = try #require(server.port)
            let json = #"{"name": "json-log-secret-name", "value": "json-log-plaintext", "key_context": {"k": "v"}}"#
            #expect(try await liveRequest(port: port, .post, "/vault/v1/kv", key: Self.key, json: json).status == 201)
            #expect(try await liveRequest(port: port, .get, "/vault/v1/kv", key: "sk_test_wrong_9999").status == 401)
            server.signal(SIGTERM)
            _ = try await server.waitForExit(timeout: .seconds(20))

            let log = server.standardError
            let objects = try log.split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            }
            #expect(objects.count >= 4, "\(log)")
            for object in objects {
                #expect(Set(object.keys) == ["timestamp", "level", "label", "metadata", "source", "message"])
            }
            let messages = objects.compactMap { $0["message"] as? String }
            #expect(messages.contains("starting") && messages.contains("stopped"))
            let created = try #require(
                objects.first { ($0["message"] as? String)?.hasPrefix("POST /vault/v1/kv 201 ") == true }
            )
            let metadata = try #require(created["metadata"] as? [String: Any])
            let expected = try APIKeyRing(entries: [.init(Self.key, origin: "test")]).keys[0].id
            #expect(metadata["actor_id"] as? String == expected)
            #expect(metadata["hb.request.id"] is String)
            let refused = try #require(
                objects.first { ($0["message"] as? String)?.hasPrefix("GET /vault/v1/kv 401 ") == true }
            )
            #expect((refused["metadata"] as? [String: Any])?["actor_id"] == nil)
            for secret in [Self.key, "sk_test_wrong_9999", "json-log-secret-name", "json-log-plaintext", "Bearer"] {
                #expect(!log.contains(secret), "the log holds \(secret)")
            }
        }
    }

    @Test("--log-level applies to JSON lines: at warning, no request lines")
    func levelApplies() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await VaultProcess.serve(
                dataDirectory: directory,
                apiKeys: Self.key,
                arguments: ["--log-format", "json", "--log-level", "warning"]
            )
            defer { server.stop() }
            let port = try #require(server.port)
            #expect(try await liveRequest(port: port, .get, "/vault/v1/kv", key: Self.key).status == 200)
            #expect(try await liveRequest(port: port, .get, "/health").status == 200)
            server.signal(SIGTERM)
            _ = try await server.waitForExit(timeout: .seconds(20))
            let log = server.standardError
            #expect(
                !log.contains("GET /vault/v1/kv") && !log.contains("GET /health") && !log.contains("stopped"),
                "\(log)"
            )
            for line in log.split(separator: "\n") {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(["warning", "error", "critical"].contains(object?["level"] as? String ?? ""), "\(line)")
            }
        }
    }
}
