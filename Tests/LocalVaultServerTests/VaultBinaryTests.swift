import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built `vault` executable, as scripts use it.
@Suite(
    "vault serve as a process",
    .enabled(if: VaultProcess.binary != nil || isCI, "the vault executable is not built (swift build)")
)
struct VaultBinaryTests {
    @Test(
        "the first line is the URL; requests work; SIGTERM and SIGINT stop it gracefully",
        arguments: [SIGTERM, SIGINT]
    )
    func serveAndStop(signal: Int32) async throws {
        try await withTemporaryDirectory { directory in
            let key = "sk_test_process_key_9f3a"
            let server = try await VaultProcess.serve(dataDirectory: directory, apiKeys: "\(key),env_b:sk_test_other")
            defer { server.stop() }
            #expect(
                server.firstLine.wholeMatch(of: #/listening on http://127\.0\.0\.1:\d+/#) != nil,
                "\(server.firstLine)"
            )
            let port = try #require(server.port)
            #expect(port > 0)

            let statuses = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                let created = try await client.post(
                    "/vault/v1/kv",
                    headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                    body: ByteBuffer(string: #"{"name": "a/b", "value": "v", "key_context": {"k": "v"}}"#)
                )
                let read = try await client.get("/vault/v1/kv/name/a%2Fb", headers: [.authorization: "Bearer \(key)"])
                let refused = try await client.get("/vault/v1/kv", headers: [.authorization: "Bearer sk_wrong"])
                return [created.status.code, read.status.code, refused.status.code]
            }
            #expect(statuses == [201, 200, 401])

            server.signal(signal)
            let exit = try await server.waitForExit(timeout: .seconds(20))
            let ended = try #require(exit, "vault serve did not stop on signal \(signal)")
            #expect(ended.reason == .exit && ended.status == 0, "\(ended)")
            let log = server.standardError
            #expect(log.contains("stopped"))
            #expect(log.contains("POST /vault/v1/kv 201"))
            #expect(log.contains("GET /vault/v1/kv/name/{name} 200"))
            for secret in [key, "sk_wrong", "a/b", "Bearer"] {
                #expect(!log.contains(secret), "the log holds \(secret)")
            }
        }
    }

    @Test("an entry that is not an sk_ key is refused at start, without echoing it")
    func invalidKeyEntry() async throws {
        try await withTemporaryDirectory { directory in
            let result = try await VaultProcess.run(
                ["serve", "--port", "0", "--data-dir", directory],
                environment: ["VAULT_API_KEYS": "sk_test_fine,pk_live_leakme"]
            )
            #expect(result.status != 0)
            #expect(result.output.isEmpty)
            #expect(result.error.contains("VAULT_API_KEYS entry 2 is not an API key"), "\(result.error)")
            #expect(!result.error.contains("leakme"))
        }
    }

    @Test("no keys at all is refused at start; a key file is read")
    func keySources() async throws {
        try await withTemporaryDirectory { directory in
            let none = try await VaultProcess.run(["serve", "--port", "0", "--data-dir", directory])
            #expect(none.status != 0)
            #expect(none.error.contains("VAULT_API_KEYS"))

            let file = (directory as NSString).appendingPathComponent("keys.txt")
            try "# keys\n\nsk_test_from_file\n".write(toFile: file, atomically: true, encoding: .utf8)
            let server = try await VaultProcess.serve(
                dataDirectory: (directory as NSString).appendingPathComponent("data"),
                apiKeys: "",
                arguments: ["--api-keys-file", file]
            )
            defer { server.stop() }
            let port = try #require(server.port)
            let status = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                try await client.get("/vault/v1/kv", headers: [.authorization: "Bearer sk_test_from_file"]).status
            }
            #expect(status == .ok)
        }
    }

    @Test("--help shows the options and examples")
    func help() async throws {
        let result = try await VaultProcess.run(["serve", "--help"])
        #expect(result.status == 0)
        for fragment in ["--port", "--data-dir", "--api-keys-file", "--customer-keys", "--rate-limit", "Examples:"] {
            #expect(result.output.contains(fragment), "\(fragment)")
        }
    }
}
