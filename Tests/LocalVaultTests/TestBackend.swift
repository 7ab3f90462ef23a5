import Foundation
import LocalVault
import LocalVaultPostgres
import Testing

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

/// Databases on the test cluster, made and dropped with `psql`.
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
        let name = "vault_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        _ = try psql(admin, "CREATE DATABASE \(name)")
        var components = try #require(URLComponents(string: admin))
        components.path = "/\(name)"
        return try #require(components.string)
    }

    /// Drops a database made by ``create()`` (connections still open included).
    static func drop(_ url: String) {
        guard let admin = try? adminURL(), let name = URLComponents(string: url)?.path.dropFirst() else { return }
        _ = try? psql(admin, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// The unaligned rows `psql` prints for one statement, one line per row, fields split at `|`.
    static func psql(_ url: String, _ sql: String) throws -> [[String]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tAc", sql]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PSQLFailed(message: String(decoding: errorData, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map {
            $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        }
    }

    struct PSQLFailed: Error, CustomStringConvertible {
        let message: String
        var description: String { "psql failed: \(message)" }
    }
}
