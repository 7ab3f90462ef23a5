import Foundation
import Logging
import VaultAPI
import VaultHTTP

/// The Vault REST API over libcurl: JSON bodies, `Authorization: Bearer`, per-segment percent
/// encoding, retries with backoff and a stable `Idempotency-Key` per POST, and typed errors.
public final class VaultRESTClient: Sendable {
    /// One endpoint call: the method, the raw path segments under `/vault/v1`, and the path
    /// template that logs show instead of the real path (names can be identifying).
    struct Endpoint: Sendable {
        var method: TransportRequest.Method
        var segments: [String]
        var template: String
        var query: [(String, String)] = []
    }

    public let configuration: RemoteConfiguration
    private let transport: CurlTransport
    private let userAgent = "workos-vault-swift/\(Vault.version)"
    /// `Bearer <key>`, built once rather than per request.
    private let authorization: String

    /// A client with a libcurl transport (and connection pool) of its own that trusts
    /// ``RemoteConfiguration/caFile``.
    /// - Parameter configuration: where the API is and how to authenticate.
    public convenience init(configuration: RemoteConfiguration) {
        self.init(configuration: configuration, transport: nil)
    }

    /// A client on a given transport (the package's tests share one between clients).
    package init(configuration: RemoteConfiguration, transport: CurlTransport?) {
        self.configuration = configuration
        self.transport = transport ?? CurlTransport(caFile: configuration.caFile)
        authorization = "Bearer \(configuration.apiKey)"
    }

    /// Sends a request and decodes the JSON response.
    func send<Response: Decodable & Sendable>(
        _ endpoint: Endpoint,
        body: (some Encodable & Sendable)?,
        as type: Response.Type,
        logger: Logger?
    ) async throws -> Response {
        try await send(endpoint, jsonBody: try body.map(Self.encode), as: type, logger: logger)
    }

    /// Sends a request whose body is JSON already and decodes the response: with `fastDecode`
    /// first when given, and with `JSONDecoder` when that returns nil.
    func send<Response: Decodable & Sendable>(
        _ endpoint: Endpoint,
        jsonBody: [UInt8]?,
        as type: Response.Type,
        fastDecode: (([UInt8]) -> Response?)? = nil,
        logger: Logger?
    ) async throws -> Response {
        let response = try await exchange(endpoint, jsonBody: jsonBody, logger: logger)
        if let fastDecode, let decoded = fastDecode(response.body) { return decoded }
        do {
            return try VaultJSON.sharedDecoder.decode(Response.self, from: Data(response.body))
        } catch {
            throw VaultError(
                .invalidResponse,
                "the response to \(endpoint.method) \(endpoint.template) is not the expected JSON",
                httpStatus: response.status,
                requestID: response.header("x-request-id")
            )
        }
    }

    /// Sends a request and returns the successful (2xx) response, retrying as the policy says.
    func exchange(
        _ endpoint: Endpoint,
        body: (some Encodable & Sendable)?,
        logger: Logger?
    ) async throws -> TransportResponse {
        try await exchange(endpoint, jsonBody: try body.map(Self.encode), logger: logger)
    }

    /// ``exchange(_:body:logger:)`` with the body encoded already.
    func exchange(_ endpoint: Endpoint, jsonBody: [UInt8]?, logger: Logger?) async throws -> TransportResponse {
        let options = RequestOptions.current
        try options?.validate()
        var headers: [(name: String, value: String)] = [
            ("Authorization", authorization),
            ("Accept", "application/json"),
            ("User-Agent", userAgent),
        ]
        headers.reserveCapacity(5 + (options?.headers.count ?? 0))
        if jsonBody != nil {
            headers.append(("Content-Type", "application/json"))
        }
        if endpoint.method == .post {
            // One key for every retry of this call, so a retried POST creates nothing new.
            headers.append(("Idempotency-Key", options?.idempotencyKey ?? Self.idempotencyKey()))
        }
        if let extra = options?.headers {
            headers += extra.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        }
        let timeout = options?.timeout ?? configuration.requestTimeout
        let request = TransportRequest(
            method: endpoint.method,
            url: url(for: endpoint),
            headers: headers,
            body: jsonBody,
            timeout: timeout,
            connectTimeout: min(timeout, .seconds(10))
        )
        let retry = options?.retry ?? configuration.retry
        let response: TransportResponse
        do {
            response = try await transport.send(request, retry: retry, isRetriable: Self.isRetriable) { attempt in
                switch attempt.outcome {
                case .success(let response):
                    let elapsed = attempt.duration
                    logger?.debug(
                        "vault request",
                        metadata: [
                            "method": "\(endpoint.method)", "path": "\(endpoint.template)",
                            "status": "\(response.status)",
                            "duration_ms":
                                "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
                            "request_id": "\(response.header("x-request-id") ?? "-")", "attempt": "\(attempt.number)",
                        ]
                    )
                case .failure(let error):
                    logger?.debug(
                        "vault request failed",
                        metadata: [
                            "method": "\(endpoint.method)", "path": "\(endpoint.template)",
                            "error": "\(error.kind.rawValue)",
                            "attempt": "\(attempt.number)",
                        ]
                    )
                }
            }
        } catch let error as HTTPTransportError {
            let code: VaultError.Code =
                switch error.kind {
                case .timeout: .timeout
                case .certificate: .certificateVerification
                default: .transport
                }
            throw VaultError(code, "\(endpoint.method) \(endpoint.template): \(error.message)")
        }
        if (200..<300).contains(response.status) { return response }
        throw Self.error(for: response, endpoint: endpoint, retry: retry)
    }

    static func encode(_ body: some Encodable) throws -> [UInt8] {
        Array(try VaultJSON.sharedEncoder.encode(body))
    }

    /// A random (version 4) UUID in lowercase.
    static func idempotencyKey() -> String { UUID().lowercasedString }

    /// 429 and 5xx as the policy says, and a 409 that only means "the first attempt of this very
    /// call is still running" (it timed out here but not yet on the server): the retry will get
    /// its answer once it is done.
    static func isRetriable(_ response: TransportResponse) -> Bool {
        if RetryPolicy.retriedStatuses.contains(response.status) { return true }
        guard response.status == 409 else { return false }
        let body = try? VaultJSON.sharedDecoder.decode(ErrorBody.self, from: Data(response.body))
        return body?.code == "idempotency_key_in_use"
    }

    private func url(for endpoint: Endpoint) -> String {
        var url = configuration.baseURL + "/vault/v1"
        for segment in endpoint.segments { url += "/" + Self.percentEncode(segment) }
        if !endpoint.query.isEmpty {
            url +=
                "?"
                + endpoint.query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }
                .joined(separator: "&")
        }
        return url
    }

    /// RFC 3986 unreserved characters stay; everything else (`/` included) is percent-encoded.
    static func percentEncode(_ text: String) -> String {
        if text.utf8.allSatisfy(isUnreserved) { return text }
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.unicodeScalars.append(UnicodeScalar(byte))
            default:
                encoded += String(format: "%%%02X", byte)
            }
        }
        return encoded
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }

    static func error(for response: TransportResponse, endpoint: Endpoint, retry: RetryPolicy) -> VaultError {
        let body = try? VaultJSON.sharedDecoder.decode(ErrorBody.self, from: Data(response.body))
        let requestID = response.header("x-request-id")
        let message = "\(endpoint.method) \(endpoint.template): \(body?.text ?? "HTTP \(response.status)")"
        let code: VaultError.Code
        switch response.status {
        case 400, 422: code = .badRequest
        case 401: code = .authentication
        case 403: code = .authorization
        case 404: code = .notFound
        case 409: code = endpoint.method == .post ? .conflict : .versionConflict
        case 413: code = .payloadTooLarge
        case 429: code = .rateLimited
        case 500...: code = .serverError
        default: code = .invalidResponse
        }
        let retryAfter = response.header("retry-after").flatMap { RetryPolicy.parseRetryAfter($0, now: Date()) }
        return VaultError(code, message, httpStatus: response.status, requestID: requestID, retryAfter: retryAfter)
    }
}
