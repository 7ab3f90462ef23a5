import LocalVault
import VaultHTTP

/// Sends the HTTP requests of one customer-managed key to its provider (AWS KMS, Google Cloud KMS,
/// Azure Key Vault) and turns the outcome into the vault's errors.
///
/// Requests run off the caller's executor (under `vault serve`, an event loop) over the shared
/// libcurl ``CurlTransport``, each attempt bounded by ``timeout``; 429, 5xx, timeouts and lost
/// connections are retried with exponential backoff and full jitter (``RetryPolicy``). A provider
/// that refuses the key (401, 403, 404, or an error code the provider names as a refusal: disabled,
/// pending deletion, wrong encryption context) is ``LocalVaultError/Kind-swift.enum/insufficientPermissions``
/// (403), never a fallback; a provider that stays unreachable or overloaded is
/// ``LocalVaultError/Kind-swift.enum/unavailable`` (503). Messages name the key id, the provider,
/// the HTTP status and the provider's error code: never bodies, keys or credentials.
public struct ProviderRequest: Sendable {
    /// How long one attempt may take by default.
    public static let defaultTimeout: Duration = .seconds(5)
    /// The retries by default: three, from 100 ms doubling up to 2 s.
    public static let defaultRetry = RetryPolicy(
        maxRetries: 3,
        baseDelay: .milliseconds(100),
        maxBackoff: .seconds(2),
        maxRetryAfter: .seconds(5)
    )
    /// One transport for every provider of the process: connections and TLS sessions are reused.
    package static let sharedTransport = CurlTransport(maxResponseBytes: 1 << 20)

    /// The provider's name in messages, such as `AWS KMS`.
    public let providerName: String
    /// The customer key's id (the BYOK file's `key_id`), named in messages.
    public let keyID: String
    /// How long one attempt may take.
    public var timeout: Duration
    public var retry: RetryPolicy
    let transport: CurlTransport

    /// Requests over the process's shared libcurl transport.
    public init(
        providerName: String,
        keyID: String,
        timeout: Duration = Self.defaultTimeout,
        retry: RetryPolicy = Self.defaultRetry
    ) {
        self.init(
            providerName: providerName,
            keyID: keyID,
            timeout: timeout,
            retry: retry,
            transport: Self.sharedTransport
        )
    }

    /// Requests over `transport` (the package's tests give their own).
    package init(
        providerName: String,
        keyID: String,
        timeout: Duration,
        retry: RetryPolicy,
        transport: CurlTransport
    ) {
        self.providerName = providerName
        self.keyID = keyID
        self.timeout = timeout
        self.retry = retry
        self.transport = transport
    }

    /// Sends `request` (its timeout replaced by ``timeout``) and returns the 2xx response.
    /// - Parameters:
    ///   - errorCode: reads the provider's short error code from an error response (such as
    ///     AWS's `__type`); only characters safe for a message are kept.
    ///   - refusalCodes: the error codes that mean the key may not be used.
    /// - Throws: ``LocalVaultError`` (403 or 503, see the type), or `CancellationError`.
    @concurrent
    package func send(
        _ request: TransportRequest,
        errorCode: @Sendable (TransportResponse) -> String? = { _ in nil },
        refusalCodes: Set<String> = []
    ) async throws -> TransportResponse {
        var request = request
        request.timeout = timeout
        request.connectTimeout = min(timeout, request.connectTimeout)
        let response: TransportResponse
        do {
            response = try await transport.send(request, retry: retry)
        } catch let error as HTTPTransportError {
            throw unavailable(Self.describe(error, timeout: timeout))
        }
        let code = (200..<300).contains(response.status) ? nil : errorCode(response).map(Self.sanitized)
        switch Self.classify(status: response.status, errorCode: code, refusalCodes: refusalCodes) {
        case .success:
            return response
        case .refused:
            throw LocalVaultError(
                .insufficientPermissions,
                "insufficient permissions to use the customer-managed key \(keyID) (\(providerName)): "
                    + "the provider refused it (\(Self.statusText(response.status, code)))"
            )
        case .unavailable:
            throw unavailable("\(Self.statusText(response.status, code)) after \(retry.maxRetries + 1) attempts")
        case .rejected:
            throw LocalVaultError(
                .internalError,
                "the customer-managed key \(keyID) (\(providerName)) rejected the request "
                    + "(\(Self.statusText(response.status, code)))"
            )
        }
    }

    /// What a response means for the key.
    enum Outcome: Equatable {
        case success
        /// The provider will not let the vault use the key: 403.
        case refused
        /// Overloaded or failing after the retries: 503.
        case unavailable
        /// Any other error: the request itself is wrong (a bug or a misconfiguration), 500.
        case rejected
    }

    static func classify(status: Int, errorCode: String?, refusalCodes: Set<String>) -> Outcome {
        switch status {
        case 200..<300: .success
        case 401, 403, 404: .refused
        case _ where errorCode.map(refusalCodes.contains) == true: .refused
        case 429, 500...: .unavailable
        default: .rejected
        }
    }

    private func unavailable(_ detail: String) -> LocalVaultError {
        LocalVaultError(.unavailable, "the customer-managed key \(keyID) (\(providerName)) is unavailable: \(detail)")
    }

    private static func describe(_ error: HTTPTransportError, timeout: Duration) -> String {
        switch error.kind {
        case .timeout: "no answer within \(timeout)"
        case .connection: "the provider cannot be reached"
        case .certificate: "the provider's TLS certificate is not trusted"
        case .invalidURL: "the endpoint is not an http or https URL"
        case .responseTooLarge: "the provider's answer is too large"
        case .cancelled, .other: "the request failed (\(error.kind.rawValue))"
        }
    }

    private static func statusText(_ status: Int, _ code: String?) -> String {
        code.map { "HTTP \(status), \($0)" } ?? "HTTP \(status)"
    }

    /// At most 64 letters, digits and `.`, `_`, `-`, `:`, `#`: an error code, never free text.
    static func sanitized(_ code: String) -> String {
        String(
            code.unicodeScalars.filter {
                $0.isASCII && ($0.properties.isAlphabetic || "0123456789._-:#".unicodeScalars.contains($0))
            }
            .prefix(64)
            .map(Character.init)
        )
    }
}
