import EnvelopeCrypto
import Foundation
import Synchronization
import VaultAPI

/// The key-encrypting keys: versions 1...n per (environment, context key, context value), the
/// first created just in time, stored wrapped under the root key, and kept unwrapped in memory once
/// used. New data keys are wrapped under a pair's newest version; every version that is not
/// retired still unwraps (entries name the exact KEK id). See KEKRotation.swift.
final class KEKRing: Sendable {
    struct KEK: Sendable {
        let id: String
        let key: DataKey
        var version: Int = 1
    }

    private let rootKey: DataKey
    private let storage: any VaultStorage
    private let byName = Mutex<[KEKName: (kek: KEK, readAt: ContinuousClock.Instant)]>([:])
    private let byID = Mutex<[String: (environmentID: String, kek: KEK, readAt: ContinuousClock.Instant)]>([:])
    /// How long a cached entry is trusted before the store is asked again; nil: forever.
    private let cacheTTL: Duration?
    /// Bounds the memory the caches use; past it they start again empty.
    private static let cacheLimit = 100_000

    init(rootKey: DataKey, storage: any VaultStorage, cacheTTL: Duration? = nil) {
        self.rootKey = rootKey
        self.storage = storage
        self.cacheTTL = cacheTTL
    }

    /// Whether an entry read at `readAt` is still trusted.
    private func isFresh(_ readAt: ContinuousClock.Instant) -> Bool {
        guard let cacheTTL else { return true }
        return ContinuousClock.now - readAt < cacheTTL
    }

    /// The KEK of one context pair, created if it does not exist yet. Concurrent first uses (in
    /// this process or another sharing the store) insert at most one row and all read that row
    /// (the newest, which is never retired: see KEKRotation). Past the cache's time to live, the
    /// same path reads the pair's newest version again (another process may have added one).
    /// - Parameter creationEvent: makes the event (`vault.kek.created`) appended with the row,
    ///   given the new KEK's id, when this call inserts it.
    func kek(for name: KEKName, creationEvent: (@Sendable (String) throws -> NewVaultEvent)? = nil) async throws -> KEK
    {
        if let cached = byName.withLock({ $0[name] }), isFresh(cached.readAt) { return hit(cached.kek) }
        VaultMetrics.kekCacheMisses.increment()
        let id = try Identifier.randomString()
        let wrapped = try rootKey.wrap(
            try DataKey.generate(),
            associatedData: Self.associatedData(id: id, name: name, version: 1)
        )
        let candidate = StoredKEK(
            id: id,
            name: name,
            version: 1,
            wrappedKey: wrapped,
            createdAt: Date().storedMilliseconds
        )
        let row = try await insertFirst(candidate, event: try creationEvent?(id))
        if row.id == candidate.id { VaultMetrics.firstKEKsCreated.increment() }
        let kek: KEK
        if let opened = try? unwrap(row) {
            kek = opened
        } else {
            kek = try await heal(row: row, candidate: candidate)
        }
        remember(kek, name: name)
        return kek
    }

    private func insertFirst(_ candidate: StoredKEK, event: NewVaultEvent? = nil) async throws -> StoredKEK {
        guard let row = try await storage.insertFirstKEK(candidate, event: event) else {
            throw LocalVaultError(.internalError, "a key-encrypting key could not be stored")
        }
        return row
    }

    /// The row that holds a pair's name does not open under its own associated data. Builds before
    /// text holding U+0000 was refused stored such a context cut at the NUL (SQLite reads bound
    /// text as a C string) while wrapping its KEK over the whole text: the row took the name of the
    /// clean pair, which then failed for good. The root key is known to be the store's (LocalVault
    /// refuses to open under another, see RootKeyCheck), so the row is moved aside to the
    /// quarantine, where it is kept, and the pair gets a fresh KEK.
    private func heal(row: StoredKEK, candidate: StoredKEK) async throws -> KEK {
        try await storage.quarantineKEK(id: row.id, at: Date().storedMilliseconds)
        return try unwrap(try await insertFirst(candidate))
    }

    /// A KEK by id, if it exists in `environmentID` and is not retired. Past the cache's time to
    /// live, the store is asked again (another process may have retired it).
    func kek(id: String, environmentID: String) async throws -> KEK? {
        let cached = byID.withLock { $0[id] }
        if let cached, isFresh(cached.readAt) { return hit(cached.environmentID == environmentID ? cached.kek : nil) }
        VaultMetrics.kekCacheMisses.increment()
        // Ids are ours (lowercase UUIDs): one with a control character, read from a crafted
        // blob, names no KEK and must not be matched cut at a NUL.
        guard !ControlCharacters.occur(in: id) else { return nil }
        guard let row = try await storage.kek(id: id, environmentID: environmentID) else {
            if cached != nil { forget(ids: [id]) }
            return nil
        }
        // The same row as cached: its key is known, no need to unwrap it again.
        let kek: KEK
        if let cached, cached.environmentID == environmentID, cached.kek.version == row.version {
            kek = cached.kek
        } else {
            kek = try unwrap(row)
        }
        rememberByID(kek, environmentID: environmentID)
        return kek
    }

    /// Adds the next version of a pair's KEK (1 if it has none) and makes it the newest in this
    /// process at once. The storage numbers it, so that concurrent rotations (in any process)
    /// end with consecutive versions.
    func rotate(_ name: KEKName) async throws -> KEK {
        let id = try Identifier.randomString()
        let key = try DataKey.generate()
        let rootKey = self.rootKey
        let version = try await storage.insertNextKEKVersion(
            of: name,
            id: id,
            createdAt: Date().storedMilliseconds
        ) { version in
            try rootKey.wrap(key, associatedData: Self.associatedData(id: id, name: name, version: version))
        }
        let kek = KEK(id: id, key: key, version: version)
        VaultMetrics.rotatedKEKsCreated.increment()
        remember(kek, name: name)
        return kek
    }

    /// Adds the next version of every due pair that `includes` accepts (see
    /// ``VaultStorage/rotateKEKs(newestCreatedBefore:includes:newVersion:)``: one process at a
    /// time, due-ness read under its lock) and makes them the newest in this process.
    func rotateDue(
        newestCreatedBefore cutoff: Int64,
        includes: @escaping @Sendable (KEKName) -> Bool
    ) async throws -> [(name: KEKName, kek: KEK)] {
        let rootKey = self.rootKey
        // The keys drawn inside the transaction, by id, to cache once it has committed.
        let drawn = Mutex<[String: DataKey]>([:])
        let createdAt = Date().storedMilliseconds
        let rows = try await storage.rotateKEKs(newestCreatedBefore: cutoff, includes: includes) { name, version in
            let id = try Identifier.randomString()
            let key = try DataKey.generate()
            let wrapped = try rootKey.wrap(
                key,
                associatedData: Self.associatedData(id: id, name: name, version: version)
            )
            drawn.withLock { $0[id] = key }
            return StoredKEK(id: id, name: name, version: version, wrappedKey: wrapped, createdAt: createdAt)
        }
        let keys = drawn.withLock { $0 }
        VaultMetrics.rotatedKEKsCreated.increment(by: rows.count)
        return try rows.map { row in
            guard let key = keys[row.id] else { throw Self.doesNotOpen }
            let kek = KEK(id: row.id, key: key, version: row.version)
            remember(kek, name: row.name)
            return (row.name, kek)
        }
    }

    /// `kek`, counted as a cache hit.
    private func hit<Found>(_ kek: Found) -> Found {
        VaultMetrics.kekCacheHits.increment()
        return kek
    }

    /// Drops KEKs from this process's caches (retired versions must stop unwrapping at once).
    func forget(ids: Set<String>) {
        byID.withLock { cache in for id in ids { cache[id] = nil } }
        byName.withLock { cache in cache = cache.filter { !ids.contains($0.value.kek.id) } }
    }

    private func unwrap(_ row: StoredKEK) throws -> KEK {
        do {
            let key = try rootKey.unwrap(
                row.wrappedKey[...],
                associatedData: Self.associatedData(id: row.id, name: row.name, version: row.version)
            )
            return KEK(id: row.id, key: key, version: row.version)
        } catch {
            throw Self.doesNotOpen
        }
    }

    private static let doesNotOpen = LocalVaultError(
        .internalError,
        "a stored key-encrypting key does not open with this root key (wrong root key or altered store)"
    )

    /// Caches `kek` as the newest version of `name` (unless a newer one is cached and still
    /// trusted) and by id.
    private func remember(_ kek: KEK, name: KEKName) {
        let now = ContinuousClock.now
        byName.withLock { cache in
            if cache.count >= Self.cacheLimit { cache.removeAll() }
            if let cached = cache[name], cached.kek.version > kek.version, isFresh(cached.readAt) { return }
            cache[name] = (kek, now)
        }
        rememberByID(kek, environmentID: name.environmentID)
    }

    /// Caches an older version by id only: it must not become the pair's newest.
    private func rememberByID(_ kek: KEK, environmentID: String) {
        let entry = (environmentID: environmentID, kek: kek, readAt: ContinuousClock.now)
        byID.withLock { cache in
            if cache.count >= Self.cacheLimit { cache.removeAll() }
            cache[kek.id] = entry
        }
    }

    /// Binds a wrapped KEK to its row: a row edited to point at another context, or (from version
    /// 2 on) renumbered, no longer opens. Version 1 keeps the form of the rows written before
    /// versions existed.
    static func associatedData(id: String, name: KEKName, version: Int) -> [UInt8] {
        let base = "lvs.kek\0\(id)\0\(name.environmentID)\0\(name.contextKey)\0\(name.contextValue)"
        return Array((version <= 1 ? base : "\(base)\0v\(version)").utf8)
    }
}
