import Foundation
import LocalVault
import PostgresNIO
import Testing

@testable import LocalVaultPostgres

#if canImport(Glibc)
import Glibc
#endif

/// The storage backends the engine's behaviour tests run against: each such test takes one as its
/// argument (`@Test(arguments: TestBackend.allCases)`), so one test body holds for every backend.
///
/// PostgreSQL tests use the cluster `VAULT_TEST_DATABASE_URL` names (scripts/test starts a
/// throwaway one), a new database per test. Without it they fail, saying so, unless
/// `VAULT_TEST_SKIP_POSTGRES=1` leaves the backend out (scripts/test sets it, with a warning,
/// when PostgreSQL cannot start and CI is not set).
enum TestBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    static var allCases: [TestBackend] {
        ProcessInfo.processInfo.environment["VAULT_TEST_SKIP_POSTGRES"] == "1" ? [.sqlite] : [.sqlite, .postgres]
    }

    var testDescription: String { rawValue }

    /// A new, empty store of this backend whose root key is the file `root.key` in `directory`
    /// (a fresh folder that the caller removes): its configuration and, for PostgreSQL, its URL.
    func freshStore(directory: String) async throws -> (LocalVaultConfiguration, databaseURL: String?) {
        let configuration = LocalVaultConfiguration(dataDirectory: directory, rootKey: .file(directory + "/root.key"))
        switch self {
        case .sqlite: return (configuration, nil)
        case .postgres: return (configuration, try await TestDatabase.create())
        }
    }

    /// Opens the store, as a process starting on it would.
    func open(_ configuration: LocalVaultConfiguration, databaseURL: String?) async throws -> LocalVault {
        guard let databaseURL else { return try LocalVault(configuration: configuration) }
        return try await LocalVault.open(databaseURL: databaseURL, configuration: configuration)
    }
}

/// Databases on the test cluster, made, queried and dropped over a connection of their own.
enum TestDatabase {
    struct NotConfigured: Error, CustomStringConvertible {
        var description: String {
            "VAULT_TEST_DATABASE_URL is not set: point it at a PostgreSQL cluster whose user may create "
                + "databases (scripts/test starts a throwaway one), or set VAULT_TEST_SKIP_POSTGRES=1"
        }
    }

    static func adminURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["VAULT_TEST_DATABASE_URL"], !url.isEmpty else {
            throw NotConfigured()
        }
        return url
    }

    /// A new database; its URL.
    static func create() async throws -> String {
        let admin = try adminURL()
        // Lowercase letters and digits only: an identifier cannot be bound.
        let name = "vault_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        _ = try await rows(admin, "CREATE DATABASE \(name)")
        var components = try #require(URLComponents(string: admin))
        components.path = "/\(name)"
        return try #require(components.string)
    }

    /// Drops a database made by ``create()`` (connections still open included).
    static func drop(_ url: String) async {
        guard let admin = try? adminURL(), let name = URLComponents(string: url)?.path.dropFirst() else { return }
        _ = try? await rows(admin, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// The rows of one statement, each column as text (NULL as the empty string).
    static func rows(_ url: String, _ sql: String) async throws -> [[String]] {
        let connection = try await PostgresConnection.connect(
            configuration: try PostgresDatabaseURL(parsing: url).connectionConfiguration(connectTimeout: .seconds(30)),
            id: 1,
            logger: PostgresStorage.silent
        )
        do {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: PostgresStorage.silent)
                .collect()
            try await connection.close()
            return rows.map { row in row.map(text(of:)) }
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Runs one statement with `psql`, blocking the caller: for callbacks that cannot await.
    /// (`posix_spawn` and `waitpid` rather than Foundation's `Process`, whose children were seen
    /// left unreaped when several tests started them at once.)
    static func executeBlocking(_ url: String, _ sql: String) {
        let arguments: [String] = ["/usr/bin/psql", url, "-X", "-q", "-c", sql]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/usr/bin/psql", nil, nil, argv, environ) == 0 else { return }
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    private static func text(of cell: PostgresCell) -> String {
        switch cell.dataType {
        case .int2, .int4, .int8: (try? cell.decode(Int64.self)).map(String.init) ?? ""
        default: (try? cell.decode(String.self)) ?? ""  // NULL: empty
        }
    }
}
