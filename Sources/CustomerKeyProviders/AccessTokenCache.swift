/// An OAuth2 bearer token and the instant after which it is no longer used.
struct AccessToken: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    /// The token itself: only ever sent in an `Authorization` header, never logged.
    let value: String
    /// When the cache stops handing it out (shortly before the provider's expiry).
    let refreshAt: ContinuousClock.Instant

    /// A token valid for `lifetime` from now, refreshed when less than a minute (or half its
    /// lifetime, for short-lived tokens) is left, so a request never leaves with a token that
    /// expires on its way.
    init(value: String, lifetime: Duration, now: ContinuousClock.Instant = .now) {
        self.value = value
        refreshAt = now + lifetime - min(.seconds(60), lifetime / 2)
    }

    var description: String { "AccessToken(redacted)" }
    var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// The access tokens of one provider key: fetched on first use, reused until shortly before
/// they expire, and fetched again at once when the provider answers 401 (a token revoked or
/// expired early).
///
/// Concurrency: one fetch at a time. Callers that need a token while a fetch is running wait for
/// that fetch instead of starting their own, so a burst of requests after expiry costs one token
/// request. A failed fetch fails its waiters and leaves nothing cached: the next call tries again.
actor AccessTokenCache {
    private let fetch: @Sendable () async throws -> AccessToken
    private var current: AccessToken?
    private var inFlight: Task<AccessToken, any Error>?

    /// - Parameter fetch: asks the provider's token endpoint for a new token.
    init(fetch: @escaping @Sendable () async throws -> AccessToken) {
        self.fetch = fetch
    }

    /// A token that is not about to expire: the cached one, or a fresh one.
    func token() async throws -> AccessToken {
        if let current, ContinuousClock.now < current.refreshAt { return current }
        return try await refreshed()
    }

    /// A token other than `rejected`, which the provider just refused with 401. When another
    /// caller already replaced it, that newer token is used rather than fetching yet another.
    func token(replacing rejected: AccessToken) async throws -> AccessToken {
        if let current, current != rejected, ContinuousClock.now < current.refreshAt { return current }
        if current == rejected { current = nil }
        return try await refreshed()
    }

    /// Forgets the cached token (for tests and a credentials reload).
    func invalidate() {
        current = nil
    }

    private func refreshed() async throws -> AccessToken {
        if let inFlight { return try await inFlight.value }
        let task = Task { try await fetch() }
        inFlight = task
        defer { inFlight = nil }
        let token = try await task.value
        current = token
        return token
    }
}
