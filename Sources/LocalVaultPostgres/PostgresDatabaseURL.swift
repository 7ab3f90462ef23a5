import Foundation
import LocalVault
import PostgresNIO

/// A PostgreSQL database named by a URL:
/// `postgres://user[:password]@host[:port]/database[?sslmode=disable|require|verify-full&sslrootcert=FILE]`
/// (also `postgresql://`).
///
/// TLS: without `sslmode`, a loopback host (127.0.0.0/8, `::1`, `localhost`) is reached without
/// TLS and any other host with `verify-full`. `require` (and `verify-ca`) verify the certificate
/// chain but not the host name; `verify-full` verifies both. Verification is never turned off.
///
/// The password is never part of a description, a mirror or a message: ``redactedDescription``
/// names the database.
package struct PostgresDatabaseURL: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    package enum TLSMode: String, Sendable {
        case disable
        /// TLS, the certificate chain verified, the host name not.
        case require
        /// TLS, the certificate chain and the host name verified.
        case verifyFull = "verify-full"
    }

    package let user: String
    let password: String?
    package let host: String
    package let port: Int
    package let database: String
    package let tlsMode: TLSMode
    /// PEM file of the certificates that sign the server's; the system's roots when nil.
    package let rootCertificateFile: String?

    /// - Throws: ``LocalVaultError`` (invalidRequest) naming the rule the URL breaks, never the URL.
    package init(parsing text: String) throws(LocalVaultError) {
        func invalid(_ rule: String) -> LocalVaultError {
            LocalVaultError(.invalidRequest, "the database URL is not valid: \(rule)")
        }
        guard let components = URLComponents(string: text) else {
            throw invalid("expected postgres://user[:password]@host[:port]/database")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw invalid("the scheme must be postgres:// or postgresql://")
        }
        guard let user = components.user, !user.isEmpty else { throw invalid("it names no user") }
        guard var host = components.host, !host.isEmpty else { throw invalid("it names no host") }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw invalid("the port must be 1 to 65535") }
        var database = components.path
        if database.hasPrefix("/") { database.removeFirst() }
        guard !database.isEmpty, !database.contains("/") else { throw invalid("it names no database (/database)") }

        var mode: TLSMode? = nil
        var rootCertificateFile: String? = nil
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                switch item.value {
                case "disable": mode = .disable
                case "require", "verify-ca": mode = .require
                case "verify-full": mode = .verifyFull
                default: throw invalid("sslmode must be disable, require, verify-ca or verify-full")
                }
            case "sslrootcert":
                guard let value = item.value, !value.isEmpty else { throw invalid("sslrootcert names no file") }
                rootCertificateFile = value
            default:
                throw invalid("the only parameters are sslmode and sslrootcert")
            }
        }
        let textHoldsNUL = [user, components.password ?? "", host, database, rootCertificateFile ?? ""]
            .contains { $0.utf8.contains(0) }
        guard !textHoldsNUL else { throw invalid("it holds U+0000") }
        self.user = user
        self.password = components.password
        self.host = host
        self.port = port
        self.database = database
        self.tlsMode = mode ?? (Self.isLoopback(host) ? .disable : .verifyFull)
        self.rootCertificateFile = rootCertificateFile
    }

    /// `postgres://user@host:port/database`: no password, no parameters.
    package var redactedDescription: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(shownHost):\(port)/\(database)"
    }

    package var description: String { redactedDescription }
    package var debugDescription: String { redactedDescription }
    package var customMirror: Mirror {
        Mirror(self, children: ["url": redactedDescription, "tlsMode": tlsMode.rawValue], displayStyle: .struct)
    }

    static func isLoopback(_ host: String) -> Bool {
        let lowered = host.lowercased()
        return lowered == "localhost" || lowered == "::1" || lowered.hasPrefix("127.")
    }

    /// The TLS settings of the URL's mode; nil without TLS.
    func tlsConfiguration() -> TLSConfiguration? {
        guard tlsMode != .disable else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = tlsMode == .verifyFull ? .fullVerification : .noHostnameVerification
        if let rootCertificateFile { tls.trustRoots = .file(rootCertificateFile) }
        return tls
    }

    /// The pool's configuration.
    func clientConfiguration(maximumConnections: Int, connectTimeout: Duration) -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host,
            port: port,
            username: user,
            password: password,
            database: database,
            tls: tlsConfiguration().map { .require($0) } ?? .disable
        )
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = connectTimeout
        return configuration
    }

    /// The configuration of the single connection that checks the database at open.
    func connectionConfiguration(connectTimeout: Duration) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        if let settings = tlsConfiguration() {
            do {
                tls = .require(try NIOSSLContext(configuration: settings))
            } catch {
                throw LocalVaultError(
                    .internalError,
                    "cannot set up TLS for \(redactedDescription): sslrootcert names no readable PEM certificate file"
                )
            }
        } else {
            tls = .disable
        }
        var configuration = PostgresConnection.Configuration(
            host: host,
            port: port,
            username: user,
            password: password,
            database: database,
            tls: tls
        )
        let (seconds, attoseconds) = connectTimeout.components
        configuration.options.connectTimeout = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        return configuration
    }
}
