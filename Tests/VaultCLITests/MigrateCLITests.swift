import Foundation
import Testing

/// `vault migrate` through the real binary: an embedded store copied into PostgreSQL, then served
/// from there by `vault serve --database`. Needs the cluster `VAULT_TEST_DATABASE_URL` names
/// (scripts/test starts one); left out only with `VAULT_TEST_SKIP_POSTGRES=1`.
@Suite(
    .timeLimit(.minutes(3)),
    .enabled(if: ProcessInfo.processInfo.environment["VAULT_TEST_SKIP_POSTGRES"] != "1")
)
struct MigrateCLITests {
    @Test func migrateThenServeFromPostgreSQL() async throws {
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let databaseURL = try await CLITestDatabase.create()
        defer { CLITestDatabase.drop(databaseURL) }
        let created = try await cli.vault(
            ["kv", "create", "db/password", "--context", "organization_id=org_1", "--json"],
            input: "one"
        )
        #expect(created.status == 0)
        let metadata = try #require(try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])
        let id = try #require(metadata["id"] as? String)
        #expect(try await cli.vault(["kv", "update", id], input: "two").status == 0)
        #expect(
            try await cli.vault(["kv", "create", "other", "--context", "organization_id=org_2"], input: "three").status
                == 0
        )

        let migrated = try await cli.vault(["migrate", "--from-data-dir", cli.home, "--database", databaseURL])

        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("objects: 2"))
        #expect(migrated.stdout.contains("object versions: 3"))
        #expect(migrated.stdout.contains("verified: 2 live objects"))
        #expect(migrated.stderr.contains("verified: 2 objects"), "progress goes to standard error")
        #expect(!migrated.stdout.contains("two") && !migrated.stderr.contains("two"))

        // The root key came from root.key in the data folder: the server gets the same key.
        let rootKey = try Data(contentsOf: URL(fileURLWithPath: cli.home + "/root.key"))
        let server = try await ListeningProcess.vaultServe(
            apiKeys: "sk_test_migrated",
            arguments: ["--database", databaseURL],
            environment: [
                "VAULT_ROOT_KEY": rootKey.count == 32
                    ? rootKey.base64EncodedString() : String(decoding: rootKey, as: UTF8.self)
            ]
        )
        defer { server.stop() }
        let remote = ["WORKOS_API_KEY": "sk_test_migrated", "WORKOS_BASE_URL": server.baseURL]
        #expect(try await cli.vault(["kv", "get", id], environment: remote).stdout == "two\n")
        #expect(try await cli.vault(["kv", "get", id, "--version", "1"], environment: remote).stdout == "one\n")
        #expect(try await cli.vault(["kv", "get", "--name", "other"], environment: remote).stdout == "three\n")

        // Into the same database again: refused, nothing written.
        let again = try await cli.vault(["migrate", "--from-data-dir", cli.home, "--database", databaseURL])
        #expect(again.status == 5)
        #expect(again.stderr.contains("not empty"))
        #expect(try await cli.vault(["kv", "get", id], environment: remote).stdout == "two\n")
    }

    @Test func migrateNeedsAReachableDatabaseAndAnExistingStore() async throws {
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let noDatabase = try await cli.vault(
            ["migrate", "--from-data-dir", cli.home],
            environment: ["VAULT_DATABASE_URL": ""]
        )
        #expect(noDatabase.status == 1)
        #expect(noDatabase.stderr.contains("--database"))

        let databaseURL = try await CLITestDatabase.create()
        defer { CLITestDatabase.drop(databaseURL) }
        let noStore = try await cli.vault([
            "migrate", "--from-data-dir", cli.home + "/missing", "--database", databaseURL,
        ])
        #expect(noStore.status == 5)
        #expect(noStore.stderr.contains("there is no vault store in"))

        // Port 1 on the loopback: nothing listens there, the connection is refused at once.
        let unreachable = try await cli.vault([
            "migrate", "--from-data-dir", cli.home, "--database", "postgres://vault@127.0.0.1:1/vault",
        ])
        #expect(unreachable.status == 5)
        #expect(unreachable.stderr.contains("cannot reach the database"))

        let help = try await cli.vault(["migrate", "--help"])
        #expect(help.stdout.contains("vault migrate --from-data-dir"))
    }
}
