import Foundation
import LocalVault
import Testing

/// The CLI against `vault serve` (issue 15, section 3): one value limit for the embedded store and
/// the server, a 413 is a usage problem (exit 1) that names the limit, and `--verbose` shows
/// each request and retry on standard error without secrets.
@Suite(.timeLimit(.minutes(3)))
struct CLIServerLimitTests {
    static let apiKey = "sk_test_cli_limits_5c2e"
    let cli = VaultCLITests()

    func server(_ server: ListeningProcess) -> [String: String] {
        ["WORKOS_API_KEY": Self.apiKey, "WORKOS_BASE_URL": server.baseURL]
    }

    @Test func theEmbeddedStoreAndTheServerAcceptTheSameValues() async throws {
        let served = try await ListeningProcess.vaultServe(apiKeys: Self.apiKey)
        defer {
            served.stop()
            try? FileManager.default.removeItem(atPath: cli.home)
        }
        let largest = String(repeating: "v", count: LocalVault.maxValueSize)
        let tooLarge = largest + "v"
        for (label, environment) in [("embedded", [:]), ("server", server(served))] {
            let accepted = try await cli.vault(
                ["kv", "create", "largest", "--context", "a=b"],
                input: largest,
                environment: environment
            )
            #expect(accepted.status == 0, "\(label): \(accepted.stderr)")
            let refused = try await cli.vault(
                ["kv", "create", "too-large", "--context", "a=b"],
                input: tooLarge,
                environment: environment
            )
            #expect(refused.status == 1, "\(label): \(refused.stderr)")
            #expect(
                refused.stderr.contains("larger than \(LocalVault.maxValueSize) bytes"),
                "\(label): \(refused.stderr)"
            )
            #expect(!refused.stderr.contains("vvvv"))
        }
        // JSON escaping (six bytes for a control character) still fits the server's default body limit.
        let escaped = String(repeating: "\u{1}", count: LocalVault.maxValueSize)
        let worstCase = try await cli.vault(
            ["kv", "create", "escaped", "--context", "a=b"],
            input: escaped,
            environment: server(served)
        )
        #expect(worstCase.status == 0, "\(worstCase.stderr)")
    }

    @Test func aRequestOverTheServersBodyLimitExitsOneAndSaysTheLimit() async throws {
        let served = try await ListeningProcess.vaultServe(
            apiKeys: Self.apiKey,
            arguments: ["--max-body-size", "2048"]
        )
        defer { served.stop() }
        let result = try await cli.vault(
            ["kv", "create", "big", "--context", "a=b"],
            input: String(repeating: "x", count: 4_096),
            environment: server(served)
        )
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("larger than 2048 bytes"), "\(result.stderr)")
        #expect(!result.stderr.contains("Usage"))
    }

    @Test func verboseLogsRequestsWithoutSecrets() async throws {
        let served = try await ListeningProcess.vaultServe(apiKeys: Self.apiKey)
        defer { served.stop() }
        let secret = "hunter2-verbose-secret"
        let created = try await cli.vault(
            ["kv", "create", "verbose", "--context", "a=b", "--verbose", "--json"],
            input: secret,
            environment: server(served)
        )
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stderr.contains("vault request"), "\(created.stderr)")
        #expect(created.stderr.contains("status=201") || created.stderr.contains("status=200"), "\(created.stderr)")
        #expect(created.stderr.contains("base_url=\(served.baseURL)"))
        let keys = try await cli.vault(
            ["keys", "data-key", "--context", "a=b", "--verbose", "--json"],
            environment: server(served)
        )
        let dataKey = try #require(
            (try JSONSerialization.jsonObject(with: Data(keys.stdout.utf8)) as? [String: String])?["data_key"]
        )
        for stderr in [created.stderr, keys.stderr] {
            #expect(!stderr.contains(secret) && !stderr.contains(Self.apiKey) && !stderr.contains(dataKey))
        }
        let quiet = try await cli.vault(["kv", "list"], environment: server(served))
        #expect(quiet.stderr.isEmpty, "no log without --verbose")
    }

    @Test func verboseShowsRetries() async throws {
        let result = try await cli.vault(
            ["encrypt", "--context", "a=b", "--verbose"],
            input: "x",
            environment: [
                "WORKOS_API_KEY": Self.apiKey, "WORKOS_BASE_URL": "http://127.0.0.1:1", "WORKOS_REQUEST_TIMEOUT": "2",
            ]
        )
        #expect(result.status == 5)
        #expect(result.stderr.contains("vault request failed"), "\(result.stderr)")
        #expect(result.stderr.contains("attempt=1") && result.stderr.contains("attempt=2"), "\(result.stderr)")
        #expect(!result.stderr.contains(Self.apiKey))
    }
}
