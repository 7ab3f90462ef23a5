import Foundation
import Hummingbird
import NIOCore
import VaultAPI

/// An error answered below the HTTP encoder, for a request the application never saw (the
/// decoder refused it, or its head did not arrive in time): the same JSON body and
/// `x-request-id` as every other error, and `Connection: close`, since the connection ends.
enum RawErrorResponse {
    /// The complete HTTP/1.1 response.
    static func bytes(for error: APIError, requestID: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        // The key order of every other JSON answer. Encoding three optional strings cannot fail;
        // the fallback keeps this function total.
        let encoder = VaultJSON.encoder()
        encoder.outputFormatting.insert(.sortedKeys)
        let body =
            (try? encoder.encode(error.body)).map { Array($0) } ?? Array(#"{"error":"Internal server error"}"#.utf8)
        let reason = error.status.reasonPhrase
        var head = "HTTP/1.1 \(error.status.code) \(reason)\r\n"
        head += "content-type: \(JSONResponse.contentType)\r\n"
        head += "content-length: \(body.count)\r\n"
        head += "\(RequestLoggingMiddleware.requestIDField.canonicalName): \(requestID)\r\n"
        head += "connection: close\r\n\r\n"
        var buffer = allocator.buffer(capacity: head.utf8.count + body.count)
        buffer.writeString(head)
        buffer.writeBytes(body)
        return buffer
    }
}
