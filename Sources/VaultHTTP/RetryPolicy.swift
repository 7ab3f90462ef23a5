import Foundation

/// When and how long a client (the Vault client, the customer-key providers) waits before trying
/// a request again.
///
/// Retried: 429, 500, 502, 503, 504 and transport errors (refused, reset, timeout). At most
/// ``maxRetries`` retries, waiting `random(0, min(maxBackoff, baseDelay × 2^attempt))` ("full
/// jitter"), or the server's `Retry-After` (seconds or an HTTP date) when it sends one, capped at
/// ``maxRetryAfter``. Every retry of a POST carries the same `Idempotency-Key`.
public struct RetryPolicy: Sendable, Hashable {
    /// Retries after the first attempt (0 disables retrying).
    public var maxRetries: Int
    /// The backoff before the first retry, doubled for each later one.
    public var baseDelay: Duration
    /// The largest backoff.
    public var maxBackoff: Duration
    /// The largest `Retry-After` honoured.
    public var maxRetryAfter: Duration

    public init(
        maxRetries: Int = 3,
        baseDelay: Duration = .milliseconds(500),
        maxBackoff: Duration = .seconds(30),
        maxRetryAfter: Duration = .seconds(60)
    ) {
        self.maxRetries = max(0, maxRetries)
        self.baseDelay = baseDelay
        self.maxBackoff = maxBackoff
        self.maxRetryAfter = maxRetryAfter
    }

    /// No retries.
    public static let none = RetryPolicy(maxRetries: 0)

    package static let retriedStatuses: Set<Int> = [429, 500, 502, 503, 504]

    /// The wait before retry number `attempt` (0-based), given the server's `Retry-After` header.
    package func delay(beforeRetry attempt: Int, retryAfterHeader: String?, now: Date = Date()) -> Duration {
        if let header = retryAfterHeader, let requested = Self.parseRetryAfter(header, now: now) {
            return min(requested, maxRetryAfter)
        }
        let ceiling = min(maxBackoff, baseDelay * (1 << min(attempt, 30)))
        let seconds = Double(ceiling.components.seconds) + Double(ceiling.components.attoseconds) / 1e18
        return .milliseconds(Int64(Double.random(in: 0...seconds) * 1000))
    }

    /// `Retry-After` as integer seconds or an HTTP date.
    package static func parseRetryAfter(_ value: String, now: Date) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed) { return seconds >= 0 ? .seconds(seconds) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .milliseconds(Int64(max(0, date.timeIntervalSince(now)) * 1000))
    }
}
