import EnvelopeCrypto
import Synchronization
import VaultAPI

/// A customer-key provider whose unwrapped data keys are kept for a short time, so that reading
/// the same data key again does not cost a round trip to the cloud key service each time.
///
/// Entries are found by a SHA-256 of the wrapped bytes and the associated data, and expire
/// ``ttl`` after the provider answered (a hit does not extend them): a key revoked at the
/// provider stops working here within ``ttl``. Failures are never cached. An expired or evicted
/// entry is dropped, and its `DataKey` wiped once no caller holds it any more (see `DataKey`).
public final class CachingCustomerKeyProvider: CustomerKeyProvider {
    /// The most entries kept; past it, expired ones go first, then everything.
    public static let maxEntries = 10_000

    public let base: any CustomerKeyProvider
    public let ttl: Duration
    private let state = Mutex(State())

    private struct State {
        var entries: [[UInt8]: (key: DataKey, expires: ContinuousClock.Instant)] = [:]
        var nextSweep = ContinuousClock.now
    }

    /// - Parameters:
    ///   - base: the provider that wraps and unwraps.
    ///   - ttl: how long an unwrapped key is served from memory; must be positive.
    public init(_ base: any CustomerKeyProvider, ttl: Duration) {
        self.base = base
        self.ttl = ttl
    }

    /// The service of ``base``.
    public var keyService: VaultKeyProvider? { base.keyService }

    public func wrap(_ key: DataKey, associatedData: [UInt8]) async throws -> [UInt8] {
        let wrapped = try await base.wrap(key, associatedData: associatedData)
        // A key just issued is usually read back soon: it needs no round trip either.
        store(key, for: Self.cacheKey(wrapped, associatedData))
        return wrapped
    }

    public func unwrap(_ wrapped: [UInt8], associatedData: [UInt8]) async throws -> DataKey {
        let cacheKey = Self.cacheKey(wrapped, associatedData)
        let now = ContinuousClock.now
        let cached = state.withLock { state -> DataKey? in
            guard let entry = state.entries[cacheKey] else { return nil }
            guard entry.expires > now else {
                state.entries[cacheKey] = nil
                return nil
            }
            return entry.key
        }
        if let cached { return cached }
        let key = try await base.unwrap(wrapped, associatedData: associatedData)
        store(key, for: cacheKey)
        return key
    }

    /// How many entries are held, expired ones included until the next sweep (for tests).
    public var count: Int { state.withLock { $0.entries.count } }

    private func store(_ key: DataKey, for cacheKey: [UInt8]) {
        let now = ContinuousClock.now
        state.withLock { state in
            if now >= state.nextSweep || state.entries.count >= Self.maxEntries {
                state.entries = state.entries.filter { $0.value.expires > now }
                if state.entries.count >= Self.maxEntries { state.entries.removeAll() }
                state.nextSweep = now + ttl
            }
            state.entries[cacheKey] = (key, now + ttl)
        }
    }

    /// SHA-256 of the wrapped bytes' length, the wrapped bytes and the associated data.
    static func cacheKey(_ wrapped: [UInt8], _ associatedData: [UInt8]) -> [UInt8] {
        var bytes = LEB128.encode(UInt32(clamping: wrapped.count))
        bytes.reserveCapacity(bytes.count + wrapped.count + associatedData.count)
        bytes += wrapped
        bytes += associatedData
        return SHA256.hash(bytes)
    }
}
