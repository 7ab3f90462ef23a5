import Foundation
import TestProcesses
import Testing

/// Databases on the test cluster that `VAULT_TEST_DATABASE_URL` names (scripts/test starts one),
/// made and dropped with `psql`.
enum CLITestDatabase {
    /// The cluster's URL, as the `postgres` role.
    private static func adminURL() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["VAULT_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 },
            "VAULT_TEST_DATABASE_URL is not set (scripts/test starts a cluster), or set VAULT_TEST_SKIP_POSTGRES=1"
        )
    }

    /// A new database; its URL. Dropped by ``drop(_:)``.
    static func create() async throws -> String {
        let admin = try adminURL()
        let name = "vault_cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try await psql(admin, "CREATE DATABASE \(name)")
        var components = try #require(URLComponents(string: admin))
        components.path = "/\(name)"
        return try #require(components.string)
    }

    /// A new database owned by a new role that logs in with `password` (a member of the role
    /// `vault_password_login`, which scripts/postgres makes its only role not trusted without
    /// one); its URL without the password. Dropped, with the role, by ``drop(_:)``.
    static func createOwnedByRole(password: String) async throws -> String {
        let admin = try adminURL()
        let name = "vault_pw_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try await psql(admin, "CREATE ROLE \(name) LOGIN PASSWORD '\(password)' IN ROLE vault_password_login")
        try await psql(admin, "CREATE DATABASE \(name) OWNER \(name)")
        var components = try #require(URLComponents(string: admin))
        components.user = name
        components.path = "/\(name)"
        return try #require(components.string)
    }

    static func drop(_ url: String) {
        guard let admin = ProcessInfo.processInfo.environment["VAULT_TEST_DATABASE_URL"],
            let name = URLComponents(string: url)?.path.dropFirst()
        else { return }
        // Synchronous: it runs in `defer` blocks (a quick statement).
        _ = try? ChildProcess.runBlocking(
            "/usr/bin/psql",
            psqlArguments(admin, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        )
        if name.hasPrefix("vault_pw_") {
            _ = try? ChildProcess.runBlocking("/usr/bin/psql", psqlArguments(admin, "DROP ROLE IF EXISTS \(name)"))
        }
    }

    struct PSQLFailed: Error {}

    /// One statement through `psql`, output discarded.
    static func psql(_ url: String, _ sql: String) async throws {
        try await run(["/usr/bin/psql"] + psqlArguments(url, sql))
    }

    private static func psqlArguments(_ url: String, _ sql: String) -> [String] {
        [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tAc", sql]
    }

    /// One statement on a SQLite file through the `sqlite3` shell, as ``psql(_:_:)`` runs `psql`.
    static func sqlite(_ path: String, _ sql: String) async throws {
        try await run(["/usr/bin/sqlite3", path, sql])
    }

    /// Runs a program (its absolute path first) to its end; throws unless it exits 0.
    private static func run(_ command: [String]) async throws {
        guard try await ChildProcess.run(command[0], Array(command.dropFirst())).status == 0 else { throw PSQLFailed() }
    }
}
