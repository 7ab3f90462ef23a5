import Hummingbird
import Synchronization

/// How many requests one API key may make per window.
public struct RateLimit: Sendable, Hashable {
    /// Requests allowed per window.
    public var requests: Int
    /// The window's length.
    public var window: Duration

    public init(requests: Int, window: Duration) {
        self.requests = requests
        self.window = window
    }

    /// The general WorkOS limit: 6,000 requests per 60 seconds per API key.
    public static let workOSDefault = RateLimit(requests: 6_000, window: .seconds(60))
}

/// A fixed-window counter per API key: a window opens with a key's first request and admits
/// ``RateLimit/requests`` requests until it ends. O(1) memory per key, and the `Retry-After` it
/// gives is exactly when the next window opens.
final class RateLimiter: Sendable {
    enum Decision: Equatable, Sendable {
        case allowed
        case limited(retryAfterSeconds: Int)
    }

    private struct Window {
        var start: ContinuousClock.Instant
        var count: Int
    }

    let limit: RateLimit
    private let now: @Sendable () -> ContinuousClock.Instant
    private let windows = Mutex<[String: Window]>([:])

    init(limit: RateLimit, now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.limit = limit
        self.now = now
    }

    /// Counts one request of `key` and says whether it may go ahead.
    func admit(_ key: String) -> Decision {
        let now = now()
        return windows.withLock { windows in
            var window = windows[key] ?? Window(start: now, count: 0)
            if now - window.start >= limit.window { window = Window(start: now, count: 0) }
            guard window.count < limit.requests else {
                let remaining = limit.window - (now - window.start)
                let seconds = Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18
                return .limited(retryAfterSeconds: max(1, Int(seconds.rounded(.up))))
            }
            window.count += 1
            windows[key] = window
            return .allowed
        }
    }
}

/// Answers 429 with the WorkOS body and `Retry-After` once an API key has used up its window.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = VaultRequestContext

    let limiter: RateLimiter

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let key = try context.requireAPIKey()
        if case .limited(let seconds) = limiter.admit(key.id) {
            throw APIError.rateLimited(retryAfterSeconds: seconds)
        }
        return try await next(request, context)
    }
}
