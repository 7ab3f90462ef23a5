import Foundation
import Testing

@testable import LocalVault
@testable import LocalVaultPostgres

@Suite struct PostgresDatabaseURLTests {
    @Test func loopbackHostsGoWithoutTLSAndOthersVerifyFully() throws {
        for host in ["127.0.0.1", "localhost", "[::1]"] {
            #expect(try PostgresDatabaseURL(parsing: "postgres://vault@\(host)/vault").tlsMode == .disable)
        }
        #expect(try PostgresDatabaseURL(parsing: "postgresql://vault@db.example.com/vault").tlsMode == .verifyFull)
        let required = try PostgresDatabaseURL(parsing: "postgres://vault@db.example.com/vault?sslmode=require")
        #expect(required.tlsMode == .require)
        // `require` still verifies the certificate chain.
        #expect(required.tlsConfiguration()?.certificateVerification == .noHostnameVerification)
        let local = try PostgresDatabaseURL(parsing: "postgres://vault@127.0.0.1/vault?sslmode=verify-full")
        #expect(local.tlsConfiguration()?.certificateVerification == .fullVerification)
    }

    @Test func thePasswordIsNeverShown() throws {
        let url = try PostgresDatabaseURL(
            parsing: "postgres://vault:s3cr%40t@db.example.com:6432/store?sslmode=disable"
        )
        #expect(url.password == "s3cr@t")
        #expect(url.redactedDescription == "postgres://vault@db.example.com:6432/store")
        var dumped = ""
        dump(url, to: &dumped)
        for shown in ["\(url)", String(reflecting: url), dumped] {
            #expect(!shown.contains("s3cr"))
        }
    }

    @Test(arguments: [
        "mysql://vault@host/db", "postgres://host/db", "postgres://vault@/db", "postgres://vault@host",
        "postgres://vault@host/db?sslmode=prefer", "postgres://vault@host/db?password=x",
        "postgres://vault@host/db?sslrootcert=",
    ])
    func invalidURLsAreRefusedWithoutEchoingThem(_ text: String) {
        #expect {
            try PostgresDatabaseURL(parsing: text)
        } throws: { error in
            guard let error = error as? LocalVaultError else { return false }
            return error.kind == .invalidRequest && !error.message.contains("vault@")
        }
    }

    /// A closed port on loopback, through the public entry: refused at once, and the message names
    /// the database without its password. No PostgreSQL is needed.
    @Test(.timeLimit(.minutes(1))) func anUnreachableDatabaseFailsWithinTheBound() async throws {
        let port = try closedPort()
        let start = ContinuousClock.now
        await #expect {
            _ = try await LocalVault.open(
                databaseURL: "postgres://vault:hidden@127.0.0.1:\(port)/vault",
                configuration: LocalVaultConfiguration(dataDirectory: "/nonexistent-vault-test")
            )
        } throws: { error in
            guard let error = error as? LocalVaultError else { return false }
            return error.kind == .internalError
                && error.message.hasPrefix("cannot reach the database at postgres://vault@127.0.0.1:\(port)/vault: ")
                && !error.message.contains("hidden")
        }
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test func anUnreadableRootCertificateFileIsAClearError() async throws {
        let url = try PostgresDatabaseURL(
            parsing: "postgres://vault@127.0.0.1:\(try closedPort())/vault?sslmode=require&sslrootcert=/nonexistent.pem"
        )
        await #expect {
            _ = try await PostgresStorage(url: url)
        } throws: { error in
            (error as? LocalVaultError)?.message.contains("sslrootcert") == true
        }
    }

    /// A port that was free a moment ago (bound, then closed).
    private func closedPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
