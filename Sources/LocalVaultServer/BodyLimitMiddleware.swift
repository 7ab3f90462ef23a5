import Hummingbird
import NIOCore

/// Reads the whole request body before anything else looks at it, refusing with 413 a body
/// larger than the limit (at once when `Content-Length` says so). Later stages (the idempotency
/// hash, the JSON decoding) then read the collected buffer from the context.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = VaultRequestContext

    /// The default limit: 1 MiB, ample for a 32-byte data key request or a secret value.
    static let defaultLimit = 1 << 20

    let limit: Int

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var request = request
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw APIError.payloadTooLarge(limit: limit)
        }
        var context = context
        do {
            context.requestBody = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.payloadTooLarge(limit: limit)
        }
        return try await next(request, context)
    }
}
