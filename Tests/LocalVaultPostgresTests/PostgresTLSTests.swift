import Foundation
import Testing

@testable import LocalVault
@testable import LocalVaultPostgres

/// TLS against the test cluster, whose certificate names `localhost` and is signed by the CA
/// that `VAULT_TEST_DATABASE_CA` names (scripts/test sets both up, from scripts/postgres): verification is
/// never turned off.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled), .timeLimit(.minutes(2)))
struct PostgresTLSTests {
    struct NoCA: Error, CustomStringConvertible {
        var description: String {
            "VAULT_TEST_DATABASE_CA is not set: name the PEM file of the CA that signs the test cluster's "
                + "certificate (scripts/test sets it), or set VAULT_TEST_SKIP_POSTGRES=1"
        }
    }

    /// A URL of the test cluster on `host`, with `parameters`.
    private func url(host: String, _ parameters: String) throws -> PostgresDatabaseURL {
        let environment = ProcessInfo.processInfo.environment
        guard let admin = environment[PostgresTestDatabase.urlVariable] else {
            throw PostgresTestDatabase.NotConfigured()
        }
        guard let ca = environment["VAULT_TEST_DATABASE_CA"], !ca.isEmpty else { throw NoCA() }
        let port = try PostgresDatabaseURL(parsing: admin).port
        let query = parameters.replacingOccurrences(of: "CA", with: ca)
        return try PostgresDatabaseURL(parsing: "postgres://postgres@\(host):\(port)/postgres?\(query)")
    }

    @Test func verifyFullConnectsToTheHostTheCertificateNames() async throws {
        let storage = try await PostgresStorage(url: url(host: "localhost", "sslmode=verify-full&sslrootcert=CA"))
        _ = try await storage.rootKeyState()
    }

    @Test func requireVerifiesTheChainButNotTheHost() async throws {
        let storage = try await PostgresStorage(url: url(host: "127.0.0.1", "sslmode=require&sslrootcert=CA"))
        _ = try await storage.rootKeyState()
    }

    @Test func verifyFullRefusesACertificateForAnotherHost() async throws {
        let url = try url(host: "127.0.0.1", "sslmode=verify-full&sslrootcert=CA")
        await #expect {
            _ = try await PostgresStorage(url: url)
        } throws: { error in
            (error as? LocalVaultError)?.message.hasSuffix(
                "the server's certificate does not name this host "
                    + "(sslmode=verify-full checks it)"
            ) == true
        }
    }

    @Test func aCertificateNoTrustedRootSignsIsRefused() async throws {
        let url = try url(host: "localhost", "sslmode=require")
        await #expect {
            _ = try await PostgresStorage(url: url)
        } throws: { error in
            (error as? LocalVaultError)?.message.contains("TLS handshake failed") == true
        }
    }
}
