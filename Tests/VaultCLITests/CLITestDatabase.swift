import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Databases on the test cluster that `VAULT_TEST_DATABASE_URL` names (scripts/test starts one),
/// made and dropped with `psql`.
enum CLITestDatabase {
    /// A new database; its URL. Dropped by ``drop(_:)``.
    static func create() throws -> String {
        let admin = try #require(
            ProcessInfo.processInfo.environment["VAULT_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 },
            "VAULT_TEST_DATABASE_URL is not set (scripts/test starts a cluster), or set VAULT_TEST_SKIP_POSTGRES=1"
        )
        let name = "vault_cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try psql(admin, "CREATE DATABASE \(name)")
        var components = try #require(URLComponents(string: admin))
        components.path = "/\(name)"
        return try #require(components.string)
    }

    static func drop(_ url: String) {
        guard let admin = ProcessInfo.processInfo.environment["VAULT_TEST_DATABASE_URL"],
            let name = URLComponents(string: url)?.path.dropFirst()
        else { return }
        try? psql(admin, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    struct PSQLFailed: Error {}

    /// One statement through `psql`, output discarded. Through `posix_spawn` and `waitpid`, not
    /// Foundation's `Process`, whose children were seen left unreaped when tests ran several at once.
    static func psql(_ url: String, _ sql: String) throws {
        try spawn(["/usr/bin/psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tAc", sql])
    }

    /// One statement on a SQLite file through the `sqlite3` shell, as ``psql(_:_:)`` runs `psql`.
    static func sqlite(_ path: String, _ sql: String) throws {
        try spawn(["/usr/bin/sqlite3", path, sql])
    }

    /// Runs a program (its absolute path first) to its end, output discarded; throws unless it exits 0.
    private static func spawn(_ arguments: [String]) throws {
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        guard posix_spawn(&pid, arguments[0], &actions, nil, argv, environ) == 0 else { throw PSQLFailed() }
        var status: Int32 = 0
        guard waitpid(pid, &status, 0) == pid, status == 0 else { throw PSQLFailed() }
    }
}
