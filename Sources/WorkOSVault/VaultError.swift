import EnvelopeCrypto
import VaultAPI

/// The one error type of the Vault client. Switch on ``code``; each error carries the HTTP status
/// and `x-request-id` where a server answered, and never a secret (no API key, data key,
/// plaintext, value or wrapped key).
public struct VaultError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String

        /// The key context breaks a Vault rule (checked before any request, and by the server).
        public static let invalidKeyContext = Code(name: "invalidKeyContext")
        /// No such object (or data key) in this environment: 404.
        public static let notFound = Code(name: "notFound")
        /// `version_check` did not name the current version: 409.
        public static let versionConflict = Code(name: "versionConflict")
        /// Another conflict, such as a name already in use: 409.
        public static let conflict = Code(name: "conflict")
        /// The request was rejected as malformed or unprocessable: 400 or 422; or a file cannot
        /// be encrypted as asked (longer than AES-GCM allows, layout A into a pipe).
        public static let badRequest = Code(name: "badRequest")
        /// The request (an object value) is larger than the service accepts: 413. The embedded
        /// store and `vault serve` accept values up to 1 MiB; the message says the limit.
        public static let payloadTooLarge = Code(name: "payloadTooLarge")
        /// The API key was not accepted: 401.
        public static let authentication = Code(name: "authentication")
        /// The API key may not do this, or a customer-managed key is not usable: 403.
        public static let authorization = Code(name: "authorization")
        /// Still rate limited after the retries ran out: 429; see ``VaultError/retryAfter``.
        public static let rateLimited = Code(name: "rateLimited")
        /// The server failed: 5xx, after the retries ran out.
        public static let serverError = Code(name: "serverError")
        /// The server's answer could not be understood (not JSON, missing fields, bad base64).
        public static let invalidResponse = Code(name: "invalidResponse")
        /// No response: connection refused or reset, DNS, TLS.
        public static let transport = Code(name: "transport")
        /// No response within the timeout.
        public static let timeout = Code(name: "timeout")
        /// The server's TLS certificate was not verified (an unknown authority, such as a
        /// private CA not given as ``RemoteConfiguration/caFile``; another host name; expired),
        /// or the CA file could not be read. Never retried.
        public static let certificateVerification = Code(name: "certificateVerification")
        /// The blob is not a well-formed blob in any (or the requested) layout, or not base64.
        public static let malformedBlob = Code(name: "malformedBlob")
        /// Decryption failed authentication: wrong key, wrong associated data, or tampered data.
        public static let decryptionFailed = Code(name: "decryptionFailed")
        /// `WORKOS_API_KEY` (or the configured key) does not start with `sk_`.
        public static let invalidAPIKey = Code(name: "invalidAPIKey")
        /// The configuration is incomplete or inconsistent.
        public static let configuration = Code(name: "configuration")
        /// A file given to ``Vault/encrypt(fileAt:to:context:associatedData:layout:progress:)`` or
        /// ``Vault/decrypt(fileAt:to:associatedData:layout:progress:)`` could not be read or written.
        public static let fileAccess = Code(name: "fileAccess")

        public var description: String { name }
    }

    public let code: Code
    /// What happened, for people. Never holds secrets.
    public let message: String
    /// The HTTP status, when a server answered.
    public let httpStatus: Int?
    /// The server's `x-request-id`, when it sent one.
    public let requestID: String?
    /// For ``Code-swift.struct/rateLimited``: how long the server asked to wait.
    public let retryAfter: Duration?

    public init(
        _ code: Code,
        _ message: String,
        httpStatus: Int? = nil,
        requestID: String? = nil,
        retryAfter: Duration? = nil
    ) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.requestID = requestID
        self.retryAfter = retryAfter
    }

    public var description: String {
        var text = "VaultError.\(code): \(message)"
        if let httpStatus { text += " (HTTP \(httpStatus))" }
        if let requestID { text += " [request \(requestID)]" }
        return text
    }

    /// Errors compare by code, so `#expect(throws: VaultError(.notFound, ""))`-style checks and
    /// `catch let error as VaultError where error.code == .notFound` both work.
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

extension VaultError {
    init(_ error: KeyContextError) {
        self.init(.invalidKeyContext, error.description)
    }

    /// A name the server would refuse with 422, refused before any request.
    init(_ error: ObjectNameError) {
        self.init(.badRequest, error.description)
    }

    /// Maps a crypto failure to the client's error.
    package init(_ error: EnvelopeCryptoError) {
        switch error.code {
        case .authenticationFailed, .invalidUTF8:
            self.init(.decryptionFailed, error.reason)
        case .malformedBlob, .invalidBase64, .unsupportedLayout, .invalidEncryptedKeys:
            self.init(.malformedBlob, error.reason)
        case .plaintextTooLong, .outputNotSeekable:
            self.init(.badRequest, error.reason)
        case .fileAccess:
            self.init(.fileAccess, error.reason)
        default:
            self.init(.invalidResponse, error.reason)
        }
    }
}
