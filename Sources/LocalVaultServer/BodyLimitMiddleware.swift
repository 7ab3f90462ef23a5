import Hummingbird
import LocalVault
import NIOCore

/// Reads the whole request body before anything else looks at it, refusing with 413 a body
/// larger than the limit (at once when `Content-Length` says so). Later stages (the idempotency
/// hash, the JSON decoding) then read the collected buffer from the context.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = VaultRequestContext

    /// The default limit: room for the largest object value the engine accepts
    /// (``LocalVault/maxValueSize``) however a client's JSON escapes it (at worst six bytes per
    /// byte, `\u0000`), plus its name and key context. So the embedded store and `vault serve`
    /// accept the same values.
    static let defaultLimit = 6 * LocalVault.maxValueSize + 64 * 1_024

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
