import Foundation
import Testing

/// `vault admin` on a PostgreSQL database (`--database`), as an operator runs it between stopping
/// and starting the `vault serve` instances that share it.
///
/// The database is a new one on the cluster `VAULT_TEST_DATABASE_URL` names (scripts/test starts
/// a throwaway one); without it these tests fail, saying so, unless `VAULT_TEST_SKIP_POSTGRES=1`.
@Suite(
    .timeLimit(.minutes(4)),
    .enabled(if: ProcessInfo.processInfo.environment["VAULT_TEST_SKIP_POSTGRES"] != "1")
)
struct AdminDatabaseCLITests {
    /// The root key every process of a test shares (base64 of 32 bytes).
    static let rootKey = Data((0..<32).map { UInt8(100 + $0) }).base64EncodedString()
    static let apiKey = "sk_test_admin_db"

    /// `vault serve --database url` with the root key `rootKey` (base64).
    static func serve(_ url: String, rootKey: String = Self.rootKey) async throws -> ListeningProcess {
        try await ListeningProcess.vaultServe(
            apiKeys: apiKey,
            arguments: ["--database", url],
            environment: ["VAULT_ROOT_KEY": rootKey]
        )
    }

    /// The variables that make the CLI a client of `server`.
    static func client(of server: ListeningProcess) -> [String: String] {
        ["WORKOS_API_KEY": apiKey, "WORKOS_BASE_URL": server.baseURL]
    }

    @Test func rotateKEKThenRewrapThenRetireOnADatabase() async throws {
        let url = try await CLITestDatabase.create()
        defer { CLITestDatabase.drop(url) }
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let key = ["VAULT_ROOT_KEY": Self.rootKey]

        let first = try await Self.serve(url)
        let client = Self.client(of: first)
        let created = try await cli.vault(
            ["kv", "create", "db/password", "--context", "organization_id=org_1"],
            input: "hunter2",
            environment: client
        )
        #expect(created.status == 0, "\(created.stderr)")
        let encrypted = try await cli.vault(
            ["encrypt", "--context", "organization_id=org_1"],
            input: "4242",
            environment: client
        )
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        let blob = encrypted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        first.stop()

        let rotated = try await cli.vault(
            ["admin", "rotate-kek", "--context", "organization_id=org_1", "--database", url],
            environment: key
        )
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("rotated key-encrypting keys in the database postgres://"))
        #expect(rotated.stdout.contains("organization_id=org_1: now version 2"))

        let refused = try await cli.vault(
            ["admin", "retire-kek-versions", "--context", "organization_id=org_1", "--below", "2", "--database", url],
            environment: key
        )
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("refused: 1 stored object versions still use a version below 2"))

        let rewrapped = try await cli.vault(
            ["admin", "rewrap"],
            environment: key.merging(["VAULT_DATABASE_URL": url]) { $1 }
        )
        #expect(rewrapped.status == 0, "\(rewrapped.stderr)")
        #expect(rewrapped.stdout.contains("re-wrapped: 1"))
        #expect(rewrapped.stderr.contains("1 versions read, 1 re-wrapped"))

        let retired = try await cli.vault(
            ["admin", "retire-kek-versions", "--context", "organization_id=org_1", "--below", "2", "--database", url],
            environment: key
        )
        #expect(retired.status == 0, "\(retired.stderr)")
        #expect(retired.stdout.contains("retired 1 key-encrypting key versions below 2"))

        let second = try await Self.serve(url)
        defer { second.stop() }
        let again = Self.client(of: second)
        #expect(try await cli.vault(["kv", "get", "--name", "db/password"], environment: again).stdout == "hunter2\n")
        let old = try await cli.vault(["decrypt"], input: blob, environment: again)
        #expect(old.status != 0)
        #expect(!old.stdout.contains("4242"))
        let fresh = try await cli.vault(
            ["encrypt", "--context", "organization_id=org_1"],
            input: "77",
            environment: again
        )
        let freshBlob = fresh.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await cli.vault(["decrypt"], input: freshBlob, environment: again).stdout == "77")
    }

    @Test func rotateRootKeyOnADatabaseReplacesRootKeyFile() async throws {
        let url = try await CLITestDatabase.create()
        defer { CLITestDatabase.drop(url) }
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let first = try await Self.serve(url)
        let created = try await cli.vault(
            ["kv", "create", "db/password", "--context", "organization_id=org_1"],
            input: "hunter2",
            environment: Self.client(of: first)
        )
        #expect(created.status == 0, "\(created.stderr)")
        first.stop()
        // The operator keeps the database's root key as root.key in a folder of its own.
        let folder = cli.home + "/keys"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let keyPath = folder + "/root.key"
        let oldKey = try #require(Data(base64Encoded: Self.rootKey))
        try oldKey.write(to: URL(fileURLWithPath: keyPath))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyPath)

        let missing = try await cli.vault([
            "admin", "rotate-root-key", "--database", url, "--data-dir", cli.home + "/none",
        ])
        #expect(missing.status == 5)
        #expect(missing.stderr.contains("there is no root key at"))
        let rotated = try await cli.vault(["admin", "rotate-root-key", "--database", url, "--data-dir", folder])

        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("rotated the root key of the database postgres://"))
        #expect(rotated.stdout.contains("key-encrypting keys re-wrapped: 1"))
        #expect(rotated.stdout.contains("the new root key is in \(keyPath)"))
        let newKey = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        #expect(newKey != oldKey && newKey.count == 32)
        for output in [rotated.stdout, rotated.stderr] {
            #expect(!output.contains(newKey.base64EncodedString()))
            #expect(!output.contains(Self.rootKey))
        }
        let second = try await Self.serve(url, rootKey: newKey.base64EncodedString())
        defer { second.stop() }
        let read = try await cli.vault(["kv", "get", "--name", "db/password"], environment: Self.client(of: second))
        #expect(read.stdout == "hunter2\n", "\(read.stderr)")
        await #expect(throws: ListeningProcessError.self) { try await Self.serve(url, rootKey: Self.rootKey) }
    }

    @Test func rotateRootKeyOnADatabaseFromEnvironmentWritesNewKeyFile() async throws {
        let url = try await CLITestDatabase.create()
        defer { CLITestDatabase.drop(url) }
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let old = ["VAULT_ROOT_KEY": Self.rootKey]
        let first = try await Self.serve(url)
        let created = try await cli.vault(
            ["kv", "create", "db/password", "--context", "organization_id=org_1"],
            input: "hunter2",
            environment: Self.client(of: first)
        )
        #expect(created.status == 0, "\(created.stderr)")
        let encrypted = try await cli.vault(
            ["encrypt", "--context", "organization_id=org_1"],
            input: "4242",
            environment: Self.client(of: first)
        )
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        let blob = encrypted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        first.stop()
        let noFile = try await cli.vault(["admin", "rotate-root-key", "--database", url], environment: old)
        #expect(noFile.status == 1)
        #expect(noFile.stderr.contains("pass --new-key-file FILE"))
        // The operator keeps the new key in a folder of its own until the variable is switched.
        let folder = cli.home + "/keys"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let newKeyFile = folder + "/root.key.new"

        let rotated = try await cli.vault(
            ["admin", "rotate-root-key", "--database", url, "--new-key-file", newKeyFile],
            environment: old
        )

        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("rotated the root key of the database postgres://"))
        #expect(rotated.stdout.contains("key-encrypting keys re-wrapped: 1"))
        #expect(rotated.stdout.contains("the new root key (base64) is in \(newKeyFile)"))
        #expect(rotated.stdout.contains("set VAULT_ROOT_KEY to the content of that file"))
        #expect(try RotateRootKeyCLITests().mode(newKeyFile) == 0o600)
        #expect(!FileManager.default.fileExists(atPath: cli.home + "/root.key"), "no root.key was created")
        let newKey = try String(contentsOfFile: newKeyFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Data(base64Encoded: newKey)?.count == 32 && newKey != Self.rootKey)
        for output in [rotated.stdout, rotated.stderr] {
            #expect(!output.contains(newKey))
            #expect(!output.contains(Self.rootKey))
        }
        // The old key no longer opens the database, and the refusal names the new key's file.
        let refused = try await cli.vault(
            ["admin", "rotate-kek", "--context", "organization_id=org_1", "--database", url],
            environment: old
        )
        #expect(refused.status == 5)
        #expect(refused.stderr.contains("root key does not match"), "\(refused.stderr)")
        #expect(refused.stderr.contains("new key written to \(newKeyFile)"), "\(refused.stderr)")
        #expect(!refused.stderr.contains(newKey))
        await #expect(throws: ListeningProcessError.self) { try await Self.serve(url, rootKey: Self.rootKey) }
        let second = try await Self.serve(url, rootKey: newKey)
        defer { second.stop() }
        let client = Self.client(of: second)
        let read = try await cli.vault(["kv", "get", "--name", "db/password"], environment: client)
        #expect(read.stdout == "hunter2\n", "\(read.stderr)")
        let decrypted = try await cli.vault(["decrypt"], input: blob, environment: client)
        #expect(decrypted.stdout == "4242", "\(decrypted.stderr)")
    }

    @Test func adminCommandsAreRefusedWhileVaultServeRunsOnTheDatabase() async throws {
        let url = try await CLITestDatabase.create()
        defer { CLITestDatabase.drop(url) }
        let server = try await Self.serve(url)
        defer { server.stop() }
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let key = ["VAULT_ROOT_KEY": Self.rootKey]
        let newKeyFile = cli.home + "/root.key.new"
        for arguments in [
            ["admin", "rotate-kek", "--context", "organization_id=org_1"],
            ["admin", "rewrap"],
            ["admin", "retire-kek-versions", "--context", "organization_id=org_1", "--below", "2"],
            ["admin", "rotate-root-key", "--new-key-file", newKeyFile],
        ] {
            let refused = try await cli.vault(arguments + ["--database", url], environment: key)
            #expect(refused.status == 5, "\(arguments[1]): \(refused.stderr)")
            #expect(
                refused.stderr.contains("is open in another process (a running vault serve?): stop it first"),
                "\(arguments[1]): \(refused.stderr)"
            )
        }
        #expect(!FileManager.default.fileExists(atPath: newKeyFile))
    }
}
