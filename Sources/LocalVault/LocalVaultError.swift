import VaultAPI

/// An error from the LocalVault engine, with the HTTP status the REST API answers it with.
/// Messages name what is wrong and never hold keys, values or wrapped keys.
public struct LocalVaultError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. New kinds may be added.
    public enum Kind: String, Hashable, Sendable {
        /// The request is malformed (bad base64, foreign or tampered `encrypted_keys`): 400.
        case invalidRequest
        /// The request is well-formed but breaks a rule (key context, name length): 422.
        case unprocessable
        /// No such object (or it was deleted), in this environment: 404.
        case notFound
        /// An object value larger than ``LocalVault/maxValueSize``: 413, as `vault serve` answers
        /// a request body over its limit.
        case contentTooLarge
        /// A name already in use, or a `version_check` that is not the current version: 409.
        case conflict
        /// A customer-managed key the service may not use: 403.
        case insufficientPermissions
        /// Storage or crypto failure that is not the caller's fault: 500.
        case internalError
        /// The store cannot be reached for now (busy past its timeout, a database down or
        /// restarting): 503. Retryable: the same request may succeed later.
        case unavailable
    }

    /// Which rule a 422 or 409 broke, or which failure a 500 is, where a caller acts on the difference.
    public enum Rule: String, Hashable, Sendable {
        case other
        /// The key context breaks a Vault rule (422).
        case keyContext
        /// `version_check` does not name the current version (409).
        case versionCheck
        /// The root key is not the store's, or is missing for a store that holds data: the vault
        /// does not open.
        case rootKey
        /// The store's volume is full (500).
        case diskFull
    }

    public let kind: Kind
    public let message: String
    public let rule: Rule

    public init(_ kind: Kind, _ message: String, rule: Rule = .other) {
        self.kind = kind
        self.message = message
        self.rule = rule
    }

    /// The HTTP status of this error.
    public var httpStatus: Int {
        switch kind {
        case .invalidRequest: 400
        case .unprocessable: 422
        case .notFound: 404
        case .contentTooLarge: 413
        case .conflict: 409
        case .insufficientPermissions: 403
        case .internalError: 500
        case .unavailable: 503
        }
    }

    /// A stable machine-readable code for the `code` field of error bodies.
    public var code: String {
        switch kind {
        case .invalidRequest: "invalid_request"
        case .unprocessable: "unprocessable_entity"
        case .notFound: "not_found"
        case .contentTooLarge: "payload_too_large"
        case .conflict: "conflict"
        case .insufficientPermissions: "insufficient_permissions"
        case .internalError: "internal_error"
        case .unavailable: "service_unavailable"
        }
    }

    public var description: String { "LocalVaultError.\(kind.rawValue): \(message)" }

    static func invalidKeyContext(_ error: KeyContextError) -> Self {
        Self(.unprocessable, error.description, rule: .keyContext)
    }
    static let objectNotFound = Self(.notFound, "object not found")
    /// Encrypted keys this vault environment did not issue: foreign, truncated, altered, or
    /// issued in another environment (400). Every such blob gets this same answer.
    public static let foreignKeys = Self(
        .invalidRequest,
        "encrypted keys were not issued by this vault environment, or were altered"
    )
}
