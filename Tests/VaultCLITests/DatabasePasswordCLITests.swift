import Foundation
import Testing

/// A database password comes from the URL in `VAULT_DATABASE_URL` or from
/// `--database-password-file`, never from a flag: `--database` refuses a URL holding one.
@Suite(.timeLimit(.minutes(2)))
struct DatabasePasswordCLITests {
    static let apiKey = "sk_test_database_password"

    @Test(arguments: [["serve", "--port", "0"], ["admin", "rewrap"], ["migrate", "--from-data-dir", "/nonexistent"]])
    func aPasswordInTheDatabaseFlagIsAUsageErrorThatDoesNotEchoIt(command: [String]) async throws {
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let password = "pw-\(UUID().uuidString)"
        let refused = try await cli.vault(
            command + ["--database", "postgres://vault:\(password)@127.0.0.1:1/vault"],
            environment: ["VAULT_API_KEYS": Self.apiKey]
        )
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(
            refused.stderr.contains(
                "--database must not hold a password: use VAULT_DATABASE_URL or --database-password-file"
            ),
            "\(refused.stderr)"
        )
        #expect(!refused.stderr.contains(password) && !refused.stdout.contains(password))
        #expect(!FileManager.default.fileExists(atPath: cli.home), "nothing is created")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["VAULT_TEST_SKIP_POSTGRES"] != "1"))
    func thePasswordFileLogsInToARoleThatNeedsAPassword() async throws {
        let password = "pw-\(UUID().uuidString)"
        let url = try await CLITestDatabase.createOwnedByRole(password: password)
        defer { CLITestDatabase.drop(url) }
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        try FileManager.default.createDirectory(atPath: cli.home, withIntermediateDirectories: true)
        let rootKey = ["VAULT_ROOT_KEY": Data((0..<32).map { UInt8(7 + $0) }).base64EncodedString()]
        let passwordFile = cli.home + "/db.password"
        try Data("\(password)\n".utf8).write(to: URL(fileURLWithPath: passwordFile))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: passwordFile)

        let server = try await ListeningProcess.vaultServe(
            apiKeys: Self.apiKey,
            arguments: ["--database", url, "--database-password-file", passwordFile],
            environment: rootKey
        )
        let client = ["WORKOS_API_KEY": Self.apiKey, "WORKOS_BASE_URL": server.baseURL]
        let created = try await cli.vault(["kv", "create", "n", "--context", "a=b"], input: "v", environment: client)
        #expect(created.status == 0, "\(created.stderr)")
        let log = (try? String(contentsOfFile: server.folder + "/stderr.log", encoding: .utf8)) ?? ""
        #expect(log.contains("starting"), "\(log)")
        #expect(!log.contains(password))
        #expect(!log.contains("readable by group or others"), "a private file: no warning")
        server.stop()

        // A password file others can read works, with a warning naming it (never its content).
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: passwordFile)
        let shared = try await cli.vault(
            ["admin", "rewrap", "--database", url, "--database-password-file", passwordFile],
            environment: rootKey
        )
        #expect(shared.status == 0, "\(shared.stderr)")
        #expect(
            shared.stderr.contains("the database password file \(passwordFile) is readable by group or others"),
            "\(shared.stderr)"
        )
        #expect(!(shared.stdout + shared.stderr).contains(password))

        // The password in the URL in VAULT_DATABASE_URL works as well.
        var withPassword = try #require(URLComponents(string: url))
        withPassword.password = password
        let fromEnvironment = try await cli.vault(
            ["admin", "rewrap"],
            environment: rootKey.merging(["VAULT_DATABASE_URL": try #require(withPassword.string)]) { $1 }
        )
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
        #expect(fromEnvironment.stdout.contains("re-wrapped: 0"), "\(fromEnvironment.stdout)")
        #expect(!(fromEnvironment.stdout + fromEnvironment.stderr).contains(password))

        // The role needs its password: a file holding another one is refused by PostgreSQL.
        let wrongFile = cli.home + "/wrong.password"
        try Data("not-\(password)\n".utf8).write(to: URL(fileURLWithPath: wrongFile))
        let serve = ["serve", "--port", "0", "--data-dir", cli.home + "/served", "--database", url]
        let wrong = try await cli.vault(
            serve + ["--database-password-file", wrongFile],
            environment: rootKey.merging(["VAULT_API_KEYS": Self.apiKey]) { $1 }
        )
        #expect(wrong.status == 5, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("authentication failed (PostgreSQL 28P01)"), "\(wrong.stderr)")
        #expect(!wrong.stderr.contains(password) && !wrong.stdout.contains(password))
    }

    @Test func aPasswordFileThatCannotBeReadOrIsEmptyIsRefusedNamingTheFile() async throws {
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        try FileManager.default.createDirectory(atPath: cli.home, withIntermediateDirectories: true)
        let empty = cli.home + "/empty.password"
        try Data().write(to: URL(fileURLWithPath: empty))
        let serve = ["serve", "--port", "0", "--data-dir", cli.home + "/served"]
        let environment = ["VAULT_API_KEYS": Self.apiKey]
        let cases = [
            (cli.home + "/missing.password", "cannot read the database password file \(cli.home)/missing.password"),
            (empty, "the database password file \(empty) is empty"),
        ]
        for (file, message) in cases {
            let refused = try await cli.vault(
                serve + ["--database", "postgres://vault@127.0.0.1:1/vault", "--database-password-file", file],
                environment: environment
            )
            #expect(refused.status == 1, "\(refused.stderr)")
            #expect(refused.stderr.contains(message), "\(refused.stderr)")
        }
        // A password file without a database to log in to is a usage error.
        let alone = try await cli.vault(serve + ["--database-password-file", empty], environment: environment)
        #expect(alone.status == 1)
        #expect(alone.stderr.contains("--database-password-file needs --database or VAULT_DATABASE_URL"))
    }
}
