import Foundation
import Hummingbird
import VaultAPI

/// Builds the JSON responses of the API: Vault's date format, `Content-Type: application/json`.
enum JSONResponse {
    static let contentType = "application/json"

    /// One encoder for every response (making one per request showed in the profile). Stable key
    /// order: the same answer is the same bytes, and reads better in a terminal.
    private static let encoder: JSONEncoder = {
        let encoder = VaultJSON.encoder()
        encoder.outputFormatting.insert(.sortedKeys)
        return encoder
    }()

    /// A response whose body is `value` as JSON.
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let bytes = try encoder.encode(value)
        return make(bytes: ByteBuffer(bytes: bytes), status: status)
    }

    /// A response whose body is JSON already encoded.
    static func make(bytes: ByteBuffer, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: bytes))
    }

    /// The response for an error.
    static func make(_ error: APIError) -> Response {
        // Encoding three optional strings cannot fail; the fallback keeps this function total.
        var response =
            (try? make(error.body, status: error.status))
            ?? make(bytes: ByteBuffer(string: #"{"error":"Internal server error"}"#), status: error.status)
        response.headers.append(contentsOf: error.headers)
        return response
    }
}

/// A header name. Hummingbird re-exports `HTTPFields` but not `HTTPField`; naming it through
/// the collection's element spares a direct dependency on swift-http-types.
typealias HTTPFieldName = HTTPFields.Element.Name
