import LocalVault
import NIOCore
import NIOPosix
import PostgresNIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error this module throws to itself (out of a transaction, to roll it back), passed through
/// ``PostgresFailure/storageError(_:)`` unchanged.
protocol StorageSignal: Error {}

/// What a PostgresNIO failure means to the engine (``StorageError``). Messages hold an SQLSTATE or
/// the name of a condition, never SQL text, bound values or the server's own message (which may
/// quote a value).
enum PostgresFailure {
    /// `error` as the engine sees it: engine errors pass through, database failures become
    /// ``StorageError``.
    static func storageError(_ error: any Error) -> any Error {
        switch error {
        case is LocalVaultError, is StorageError, is CancellationError, is StorageSignal: return error
        case let error as PSQLError: return storageError(error)
        // The pool's own error (its connections keep failing, or it is closed) is a type of an
        // underscored module of PostgresNIO, not its API: known by its name.
        case _ where "\(type(of: error))" == "ConnectionPoolError":
            return StorageError.unavailable("PostgreSQL cannot be reached (pool)")
        case is PostgresDecodingError: return StorageError.failed("PostgreSQL: a column is not of the expected type")
        default: return StorageError.failed("PostgreSQL: \(type(of: error))")
        }
    }

    private static func storageError(_ error: PSQLError) -> StorageError {
        switch error.code {
        case .server:
            let state = sqlState(of: error) ?? "?????"
            if state == "53100" { return .diskFull("PostgreSQL \(state): the database's disk is full") }
            if meansUnavailable(state) { return .unavailable("PostgreSQL \(state)") }
            return .failed("PostgreSQL \(state)")
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            return .unavailable("PostgreSQL connection closed")
        case .poolClosed: return .unavailable("PostgreSQL connection pool closed")
        case .queryCancelled: return .unavailable("PostgreSQL query cancelled")
        case .sslUnsupported, .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            return .unavailable("PostgreSQL TLS failed")
        default: return .failed("PostgreSQL \(error.code)")
        }
    }

    /// The SQLSTATE of a failure the server reported.
    static func sqlState(of error: any Error) -> String? {
        guard let error = error as? PSQLError, error.code == .server else { return nil }
        return error.serverInfo?[.sqlState]
    }

    /// Whether the server reported a violation of a unique constraint, named `constraint` when given.
    static func isUniqueViolation(_ error: any Error, constraint: String? = nil) -> Bool {
        guard sqlState(of: error) == "23505" else { return false }
        guard let constraint else { return true }
        return (error as? PSQLError)?.serverInfo?[.constraintName] == constraint
    }

    /// Connection exceptions (class 08), a server shutting down or starting (57P01...57P05), too
    /// many connections (53300): a retry later may succeed.
    private static func meansUnavailable(_ state: String) -> Bool {
        state.hasPrefix("08") || ["57P01", "57P02", "57P03", "57P05", "53300"].contains(state)
    }

    /// Why a first connection failed, for the message of an open that cannot reach the database:
    /// a condition, never the server's text.
    static func connectFailureReason(_ error: any Error) -> String {
        if let state = sqlState(of: error) {
            switch state {
            case "28P01", "28000": return "authentication failed (PostgreSQL \(state))"
            case "3D000": return "the database does not exist (PostgreSQL \(state))"
            default: return "PostgreSQL \(state)"
            }
        }
        if let error = error as? PSQLError {
            switch error.code {
            case .sslUnsupported: return "the server does not offer TLS (sslmode=disable connects without it)"
            case .failedToAddSSLHandler: return "TLS could not be set up"
            case .authMechanismRequiresPassword: return "the server asks for a password and the URL gives none"
            case .unsupportedAuthMechanism: return "the server asks for an authentication method this client lacks"
            case .connectionError, .serverClosedConnection, .uncleanShutdown:
                if let underlying = error.underlying { return describe(underlying) }
                return "the connection failed"
            default: return "\(error.code)"
            }
        }
        return describe(error)
    }

    /// A network or TLS failure: its errno text, or its type (descriptions may hold a host).
    private static func describe(_ error: any Error) -> String {
        switch error {
        case let error as IOError: return String(cString: strerror(error.errnoCode)).lowercased()
        case let error as NIOConnectionError:
            guard let first = error.connectionErrors.first else { return "no address to connect to" }
            return describe(first.error)
        case ChannelError.connectTimeout: return "no answer in time"
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return "the server's certificate does not name this host (sslmode=verify-full checks it)"
        default:
            let type = "\(type(of: error))"
            if type.contains("SSL") {
                return "the TLS handshake failed (\(type)): check the certificate and sslrootcert"
            }
            return "the connection failed (\(type))"
        }
    }
}
