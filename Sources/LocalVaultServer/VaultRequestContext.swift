import Hummingbird
import NIOCore
import Synchronization

/// The request context of `vault serve`: Hummingbird's core context plus the API key that
/// authenticated the request (set by ``AuthenticationMiddleware``).
public struct VaultRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated key; `nil` until authentication has run.
    public var apiKey: APIKey? {
        didSet { actor.id = apiKey?.id }
    }
    /// The authenticated key's id, shared with the middleware outside authentication (the
    /// request log), which sees only its own copy of the context.
    let actor = RequestActor()
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

/// The id of the API key a request authenticated with, once known: set inside the middleware
/// chain, read by the request log outside it.
final class RequestActor: Sendable {
    private let value = Mutex<String?>(nil)

    var id: String? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
