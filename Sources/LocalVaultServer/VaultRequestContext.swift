import Hummingbird
import NIOCore

/// The request context of `vault serve`: Hummingbird's core context plus the API key that
/// authenticated the request (set by ``AuthenticationMiddleware``).
public struct VaultRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated key; `nil` until authentication has run.
    public var apiKey: APIKey?
    /// The request body, collected once by ``BodyLimitMiddleware`` (empty before it runs), so
    /// that later stages read a buffer instead of the request's async body stream again.
    public internal(set) var requestBody = ByteBuffer()

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        apiKey = nil
    }

    /// The authenticated key.
    /// - Throws: ``APIError/unauthorized`` if authentication has not run (a routing mistake).
    func requireAPIKey() throws(APIError) -> APIKey {
        guard let apiKey else { throw APIError.unauthorized }
        return apiKey
    }
}
