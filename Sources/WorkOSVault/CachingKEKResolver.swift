import EnvelopeCrypto
import Foundation
import Logging
import Synchronization
import VaultAPI

/// A ``KEKResolver`` decorator that caches data keys.
///
/// - **Encrypt** (off unless a ``DataKeyCachePolicy`` is given): reuses one data key per key context
///   within the policy's limits. Blobs made with a cached key are ordinary layout-A blobs that every
///   official SDK decrypts.
/// - **Decrypt** (on by default, ``DecryptCachePolicy``): keeps unwrapped keys by a SHA-256 of their
///   wrapped form.
///
/// Concurrent misses for the same context, or the same wrapped keys, share one request (single
/// flight). Evicted keys are released, and a `DataKey` wipes its bytes when its last holder lets
/// go. Safe to use from many tasks at once.
public final class CachingKEKResolver: KEKResolver {
    public let base: any KEKResolver
    public let encryptPolicy: DataKeyCachePolicy?
    public let decryptPolicy: DecryptCachePolicy?

    private struct EncryptEntry: CacheEntry {
        let dataKey: ResolvedDataKey
        let created: ContinuousClock.Instant
        var messages: Int
        var bytes: Int
    }

    private struct DecryptEntry: CacheEntry {
        let dataKey: ResolvedDataKey
        let created: ContinuousClock.Instant
    }

    private struct State {
        var encrypt: [String: EncryptEntry] = [:]
        var decrypt: [String: DecryptEntry] = [:]
        var encryptFlights: [String: Task<ResolvedDataKey, any Error>] = [:]
        var decryptFlights: [String: Task<ResolvedDataKey, any Error>] = [:]
        var statistics = CacheStatistics()
    }

    private let state = Mutex(State())

    /// - Parameters:
    ///   - base: the resolver that issues and unwraps keys.
    ///   - encryptCache: a policy to reuse data keys for encryption; `nil` (default) keeps one data
    ///     key per message.
    ///   - decryptCache: the unwrapped-key cache; `nil` turns it off.
    public init(
        wrapping base: any KEKResolver,
        encryptCache: DataKeyCachePolicy? = nil,
        decryptCache: DecryptCachePolicy? = DecryptCachePolicy()
    ) {
        self.base = base
        self.encryptPolicy = encryptCache
        self.decryptPolicy = decryptCache
    }

    /// The hit, miss and eviction counts so far.
    public var statistics: CacheStatistics { state.withLock { $0.statistics } }

    public func newDataKey(for context: KeyContext, logger: Logger?) async throws -> ResolvedDataKey {
        try await base.newDataKey(for: context, logger: logger)
    }

    public func dataKeyForEncryption(
        for context: KeyContext,
        plaintextCount: Int,
        logger: Logger?
    ) async throws
        -> ResolvedDataKey
    {
        guard let policy = encryptPolicy, plaintextCount <= policy.maxBytes else {
            return try await base.newDataKey(for: context, logger: logger)
        }
        let cacheKey = Self.cacheKey(for: context)
        var requested = false  // this call started a request: its own use is not a hit
        while true {
            let (reserved, flight) = state.withLock { state -> (ResolvedDataKey?, Task<ResolvedDataKey, any Error>?) in
                if let key = Self.reserve(cacheKey, count: plaintextCount, policy: policy, in: &state) {
                    if !requested { state.statistics.encryptHits += 1 }
                    return (key, nil)
                }
                if let flight = state.encryptFlights[cacheKey] { return (nil, flight) }
                requested = true
                state.statistics.encryptMisses += 1
                let flight = Task { [base] in try await base.newDataKey(for: context, logger: logger) }
                state.encryptFlights[cacheKey] = flight
                return (nil, flight)
            }
            if let reserved { return reserved }
            guard let flight else { continue }
            let fetched: ResolvedDataKey
            do {
                fetched = try await flight.value
            } catch {
                state.withLock { if $0.encryptFlights[cacheKey] == flight { $0.encryptFlights[cacheKey] = nil } }
                throw error
            }
            state.withLock { state in
                guard state.encryptFlights[cacheKey] == flight else { return }
                state.encryptFlights[cacheKey] = nil
                Self.makeRoom(
                    in: &state.encrypt,
                    capacity: policy.capacity,
                    evictions: &state.statistics.encryptEvictions
                )
                state.encrypt[cacheKey] = EncryptEntry(dataKey: fetched, created: .now, messages: 0, bytes: 0)
            }
            // Loop: reserve from the new entry like every other caller, so no limit is ever passed.
        }
    }

    public func dataKey(forEncryptedKeys encryptedKeys: [UInt8], logger: Logger?) async throws -> ResolvedDataKey {
        guard let policy = decryptPolicy else {
            return try await base.dataKey(forEncryptedKeys: encryptedKeys, logger: logger)
        }
        let cacheKey = SHA256.hexDigest(encryptedKeys)
        let (cached, flight) = state.withLock { state -> (ResolvedDataKey?, Task<ResolvedDataKey, any Error>?) in
            if let entry = state.decrypt[cacheKey] {
                if ContinuousClock.now - entry.created < policy.maxAge {
                    state.statistics.decryptHits += 1
                    return (entry.dataKey, nil)
                }
                state.decrypt[cacheKey] = nil
                state.statistics.decryptEvictions += 1
            }
            if let flight = state.decryptFlights[cacheKey] {
                state.statistics.decryptHits += 1
                return (nil, flight)
            }
            state.statistics.decryptMisses += 1
            let flight = Task { [base] in try await base.dataKey(forEncryptedKeys: encryptedKeys, logger: logger) }
            state.decryptFlights[cacheKey] = flight
            return (nil, flight)
        }
        if let cached { return cached }
        guard let flight else { preconditionFailure("a miss always has a flight") }
        do {
            let fetched = try await flight.value
            state.withLock { state in
                guard state.decryptFlights[cacheKey] == flight else { return }
                state.decryptFlights[cacheKey] = nil
                Self.makeRoom(
                    in: &state.decrypt,
                    capacity: policy.capacity,
                    evictions: &state.statistics.decryptEvictions
                )
                state.decrypt[cacheKey] = DecryptEntry(dataKey: fetched, created: .now)
            }
            return fetched
        } catch {
            state.withLock { if $0.decryptFlights[cacheKey] == flight { $0.decryptFlights[cacheKey] = nil } }
            throw error
        }
    }

    public func rekey(encryptedKeys: [UInt8], to context: KeyContext, logger: Logger?) async throws -> ResolvedDataKey {
        try await base.rekey(encryptedKeys: encryptedKeys, to: context, logger: logger)
    }

    /// Drops every cached key (they are wiped once no operation holds them).
    public func removeAll() {
        state.withLock { state in
            state.statistics.encryptEvictions += state.encrypt.count
            state.statistics.decryptEvictions += state.decrypt.count
            state.encrypt.removeAll()
            state.decrypt.removeAll()
        }
    }

    /// Reserves one message of `count` bytes on the cached key, or drops an entry past a limit.
    private static func reserve(
        _ cacheKey: String,
        count: Int,
        policy: DataKeyCachePolicy,
        in state: inout State
    )
        -> ResolvedDataKey?
    {
        guard var entry = state.encrypt[cacheKey] else { return nil }
        let fresh = ContinuousClock.now - entry.created < policy.maxAge
        guard fresh, entry.messages < policy.maxMessages, entry.bytes + count <= policy.maxBytes else {
            state.encrypt[cacheKey] = nil
            state.statistics.encryptEvictions += 1
            return nil
        }
        entry.messages += 1
        entry.bytes += count
        state.encrypt[cacheKey] = entry
        return entry.dataKey
    }

    /// Evicts the oldest entry when the cache is full.
    private static func makeRoom<Entry>(in cache: inout [String: Entry], capacity: Int, evictions: inout Int)
    where Entry: CacheEntry {
        guard cache.count >= capacity, let oldest = cache.min(by: { $0.value.created < $1.value.created })?.key else {
            return
        }
        cache[oldest] = nil
        evictions += 1
    }

    /// One string per context: its pairs sorted, each part length-prefixed so no two contexts collide.
    static func cacheKey(for context: KeyContext) -> String {
        context.sortedPairs.map { "\($0.key.utf8.count):\($0.key)\($0.value.utf8.count):\($0.value)" }.joined()
    }
}

/// What the cache needs of an entry to evict the oldest.
private protocol CacheEntry {
    var created: ContinuousClock.Instant { get }
}
