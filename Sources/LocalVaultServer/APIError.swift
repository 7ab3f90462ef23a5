import EnvelopeCrypto
import Foundation
import Hummingbird
import LocalVault
import NIOCore
import VaultAPI

/// An error answered to the client: a status and the Vault error body `{"error", "message",
/// "code"}`. Messages name what is wrong and never quote request values (names, values, keys,
/// context values), since they end up in client logs.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Extra headers, such as `Retry-After`.
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// The body: Vault's `error` plus the `message` and `code` other WorkOS APIs use.
    public var body: ErrorBody { ErrorBody(error: message, message: message, code: code) }

    /// The same answer for every authentication failure, so that it tells nothing about why.
    public static let unauthorized = APIError(
        .unauthorized,
        code: "unauthorized",
        message: "Unauthorized",
        headers: [.wwwAuthenticate: "Bearer"]
    )

    /// The WorkOS rate-limit answer.
    public static func rateLimited(retryAfterSeconds: Int) -> APIError {
        APIError(
            .tooManyRequests,
            code: "rate_limit_exceeded",
            message: "Too many requests.",
            headers: [.retryAfter: String(retryAfterSeconds)]
        )
    }

    static let notFound = APIError(.notFound, code: "not_found", message: "Not found")
    static let serverFault = APIError(.internalServerError, code: "internal_error", message: "Internal server error")
    /// The store cannot be reached for now: the client may retry.
    static let unavailable = APIError(
        .serviceUnavailable,
        code: "service_unavailable",
        message: "the service is unavailable, retry later"
    )

    static func badRequest(_ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_request", message: message)
    }

    static func unprocessable(_ message: String) -> APIError {
        APIError(.unprocessableContent, code: "unprocessable_entity", message: message)
    }

    static func payloadTooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "payload_too_large", message: "the request body is larger than \(limit) bytes")
    }
}

/// Turns any error a handler throws into the ``APIError`` the client gets.
enum ErrorMapping {
    /// The fields of request bodies, the only coding-path components a message may name (a key
    /// context's keys are client data and are not named).
    static let fieldNames: Set<String> = [
        "context", "keys", "encrypted_keys", "name", "value", "key_context", "version_check",
        "expected_version",
    ]

    /// - Returns: the error to answer with, and whether it is a server fault worth logging.
    static func apiError(for error: any Error) -> (error: APIError, isServerFault: Bool) {
        switch error {
        case let error as APIError:
            return (error, error.status.code >= 500)
        case let error as LocalVaultError:
            if error.kind == .unavailable { return (.unavailable, true) }
            guard error.httpStatus < 500 else { return (.serverFault, true) }
            return (
                APIError(HTTPResponse.Status(code: error.httpStatus), code: error.code, message: error.message), false
            )
        case let error as KeyContextError:
            return (.unprocessable(error.description), false)
        case let error as ObjectNameError:
            return (.unprocessable(error.description), false)
        case let error as DecodingError:
            return (apiError(for: error), false)
        case is EnvelopeCryptoError:
            return (.badRequest("a base64 field is not valid standard base64"), false)
        case is NIOTooManyBytesError:
            return (
                APIError(.contentTooLarge, code: "payload_too_large", message: "the request body is too large"), false
            )
        case let error as HTTPError:
            return (apiError(status: error.status), error.status.code >= 500)
        case let error as any HTTPResponseError:
            return (apiError(status: error.status), error.status.code >= 500)
        default:
            // The storage's own errors (a full disk, a store out of reach) pass through the engine.
            if let failure = LocalVaultError(storageFailure: error) { return apiError(for: failure) }
            return (.serverFault, true)
        }
    }

    /// Malformed JSON is 400; well-formed JSON of the wrong shape is 422.
    static func apiError(for error: DecodingError) -> APIError {
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return .badRequest("the request body is not valid JSON")
        case .dataCorrupted(let context):
            return .unprocessable("\(describe(context.codingPath)) is not valid")
        case .keyNotFound(let key, let context):
            return .unprocessable("\(describe(context.codingPath + [key])) is required")
        case .valueNotFound(_, let context):
            return .unprocessable("\(describe(context.codingPath)) must not be null")
        case .typeMismatch(let type, let context):
            if context.codingPath.isEmpty { return .unprocessable("the request body must be a JSON object") }
            return .unprocessable("\(describe(context.codingPath)) must be \(typeName(type))")
        @unknown default:
            return .unprocessable("the request body does not have the expected fields")
        }
    }

    private static func describe(_ codingPath: [any CodingKey]) -> String {
        let names = codingPath.map(\.stringValue)
        guard !names.isEmpty, names.allSatisfy(fieldNames.contains) else { return "a field" }
        return "field '\(names.joined(separator: "."))'"
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Double.Type: "a number"
        default: "an object of the expected shape"
        }
    }

    private static func apiError(status: HTTPResponse.Status) -> APIError {
        switch status.code {
        case 404: .notFound
        case 413: APIError(status, code: "payload_too_large", message: "the request body is too large")
        case 400..<500:
            APIError(
                status,
                code: "invalid_request",
                message: status.reasonPhrase.isEmpty ? "bad request" : status.reasonPhrase
            )
        default: .serverFault
        }
    }
}
