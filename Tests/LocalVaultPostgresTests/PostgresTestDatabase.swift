import Foundation
import PostgresNIO
import Testing

@testable import LocalVaultPostgres

/// A fresh database `vault_test_<random>` on the cluster that `VAULT_TEST_DATABASE_URL` names (an
/// admin URL: a user that may create databases), dropped at the end of the test.
///
/// Without the variable the tests fail with a message that says so, unless
/// `VAULT_TEST_SKIP_POSTGRES=1` turns them off.
struct PostgresTestDatabase {
    static let urlVariable = "VAULT_TEST_DATABASE_URL"
    static let skipVariable = "VAULT_TEST_SKIP_POSTGRES"

    /// False only when the tests are turned off on purpose.
    static var isEnabled: Bool { ProcessInfo.processInfo.environment[skipVariable] != "1" }

    struct NotConfigured: Error, CustomStringConvertible {
        var description: String {
            "\(PostgresTestDatabase.urlVariable) is not set: point it at a PostgreSQL cluster whose user may "
                + "create databases (scripts/test starts a throwaway one), or set "
                + "\(PostgresTestDatabase.skipVariable)=1 to skip the PostgreSQL tests"
        }
    }

    let name: String
    /// The URL of the test database.
    let url: PostgresDatabaseURL
    let urlText: String
    private let admin: PostgresDatabaseURL

    /// Runs `body` with a fresh database, dropped afterwards (connections still open included).
    static func with<Result>(_ body: (PostgresTestDatabase) async throws -> Result) async throws -> Result {
        let database = try await create()
        let result: Result
        do {
            result = try await body(database)
        } catch {
            try? await database.drop()
            throw error
        }
        try await database.drop()
        return result
    }

    static func create() async throws -> PostgresTestDatabase {
        guard let adminText = ProcessInfo.processInfo.environment[urlVariable], !adminText.isEmpty else {
            throw NotConfigured()
        }
        let admin = try PostgresDatabaseURL(parsing: adminText)
        // Lowercase letters and digits only: the name is SQL text (an identifier cannot be bound).
        let name = "vault_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try await run(admin, "CREATE DATABASE \(name)")
        var components = URLComponents(string: adminText)!
        components.path = "/\(name)"
        let urlText = components.string!
        return PostgresTestDatabase(
            name: name,
            url: try PostgresDatabaseURL(parsing: urlText),
            urlText: urlText,
            admin: admin
        )
    }

    func drop() async throws {
        try await Self.run(admin, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Rows of a query on the test database, through a connection of its own.
    func rows(_ sql: String) async throws -> [PostgresRow] {
        let connection = try await PostgresConnection.connect(
            configuration: url.connectionConfiguration(connectTimeout: .seconds(30)),
            id: 1,
            logger: PostgresStorage.silent
        )
        do {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: PostgresStorage.silent)
                .collect()
            try await connection.close()
            return rows
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private static func run(_ url: PostgresDatabaseURL, _ sql: String) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: url.connectionConfiguration(connectTimeout: .seconds(30)),
            id: 1,
            logger: PostgresStorage.silent
        )
        do {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: PostgresStorage.silent)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}
