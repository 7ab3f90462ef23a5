import Foundation
import TestProcesses
import Testing

/// Databases on the test cluster that `VAULT_TEST_DATABASE_URL` names (scripts/test starts one),
/// made and dropped with `psql`.
enum CLITestDatabase {
    /// A new database; its URL. Dropped by ``drop(_:)``.
    static func create() async throws -> String {
        let admin = try #require(
            ProcessInfo.processInfo.environment["VAULT_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 },
            "VAULT_TEST_DATABASE_URL is not set (scripts/test starts a cluster), or set VAULT_TEST_SKIP_POSTGRES=1"
        )
        let name = "vault_cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try await psql(admin, "CREATE DATABASE \(name)")
        var components = try #require(URLComponents(string: admin))
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
