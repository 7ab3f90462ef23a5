import EnvelopeCrypto
import Foundation
import GRDB
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

    struct Name: Hashable, Sendable {
        let environmentID: String
        let contextKey: String
        let contextValue: String
    }

    private let rootKey: DataKey
    private let store: VaultStore
    private let byName = Mutex<[Name: KEK]>([:])
    private let byID = Mutex<[String: (environmentID: String, kek: KEK)]>([:])
    /// Bounds the memory the caches use; past it they start again empty.
    private static let cacheLimit = 100_000

    init(rootKey: DataKey, store: VaultStore) {
        self.rootKey = rootKey
        self.store = store
    }

    /// The KEK of one context pair, created if it does not exist yet. Concurrent first uses (in
    /// this process or another sharing the store) insert at most one row and all read that row.
    func kek(for name: Name) async throws -> KEK {
        if let cached = byName.withLock({ $0[name] }) { return cached }
        let candidateID = try Identifier.randomString()
        let candidateKey = try DataKey.generate()
        let wrapped = try rootKey.wrap(
            candidateKey,
            associatedData: Self.associatedData(id: candidateID, name: name, version: 1)
        )
        let row = try await insertOrFetch(id: candidateID, wrapped: wrapped, name: name)
        let kek: KEK
        if let opened = try? unwrap(id: row.id, wrapped: row.wrapped, name: name, version: row.version) {
            kek = opened
        } else {
            kek = try await heal(row: row, candidateID: candidateID, wrapped: wrapped, name: name)
        }
        remember(kek, name: name)
        return kek
    }

    /// Inserts the candidate KEK as version 1 unless the pair has a version, and reads the pair's
    /// newest row (the newest is never retired: see KEKRotation).
    private func insertOrFetch(
        id: String,
        wrapped: [UInt8],
        name: Name
    ) async throws -> (id: String, wrapped: [UInt8], version: Int) {
        let insert = try StatementArguments.checked([
            id, name.environmentID, name.contextKey, name.contextValue, Data(wrapped), Date().storedMilliseconds,
        ])
        let select = try StatementArguments.checked([name.environmentID, name.contextKey, name.contextValue])
        let row = try await store.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO keks (id, environment_id, context_key, context_value, version, wrapped_key, created_at)
                    VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING
                    """,
                arguments: insert
            )
            return try Row.fetchOne(
                db,
                sql: """
                    SELECT id, wrapped_key, version FROM keks
                    WHERE environment_id = ? AND context_key = ? AND context_value = ? AND retired_at IS NULL
                    ORDER BY version DESC LIMIT 1
                    """,
                arguments: select
            ).map {
                (id: $0["id"] as String, wrapped: Array($0["wrapped_key"] as Data), version: $0["version"] as Int)
            }
        }
        guard let row else { throw LocalVaultError(.internalError, "a key-encrypting key could not be stored") }
        return row
    }

    /// The row that holds a pair's name does not open under its own associated data. Builds before
    /// text holding U+0000 was refused stored such a context cut at the NUL (SQLite reads bound
    /// text as a C string) while wrapping its KEK over the whole text: the row took the name of the
    /// clean pair, which then failed for good. The root key is known to be the store's (LocalVault
    /// refuses to open under another, see RootKeyCheck), so the row is moved aside to
    /// `keks_quarantine`, where it is kept, and the pair gets a fresh KEK.
    private func heal(
        row: (id: String, wrapped: [UInt8], version: Int),
        candidateID: String,
        wrapped: [UInt8],
        name: Name
    )
        async throws -> KEK
    {
        let arguments = try StatementArguments.checked([Date().storedMilliseconds, row.id, row.id])
        try await store.pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO keks_quarantine
                        (id, environment_id, context_key, context_value, wrapped_key, created_at, quarantined_at)
                    SELECT id, environment_id, context_key, context_value, wrapped_key, created_at, ?
                    FROM keks WHERE id = ?;
                    DELETE FROM keks WHERE id = ?;
                    """,
                arguments: arguments
            )
        }
        let fresh = try await insertOrFetch(id: candidateID, wrapped: wrapped, name: name)
        return try unwrap(id: fresh.id, wrapped: fresh.wrapped, name: name, version: fresh.version)
    }

    /// A KEK by id, if it exists in `environmentID` and is not retired.
    func kek(id: String, environmentID: String) async throws -> KEK? {
        if let cached = byID.withLock({ $0[id] }) { return cached.environmentID == environmentID ? cached.kek : nil }
        // Ids are ours (lowercase UUIDs): one with a control character, read from a crafted
        // blob, names no KEK and must not be matched cut at a NUL.
        guard !ControlCharacters.occur(in: id) else { return nil }
        let arguments = try StatementArguments.checked([id, environmentID])
        let row = try await store.pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT context_key, context_value, wrapped_key, version FROM keks
                    WHERE id = ? AND environment_id = ? AND retired_at IS NULL
                    """,
                arguments: arguments
            ).map {
                (
                    key: $0["context_key"] as String, value: $0["context_value"] as String,
                    wrapped: $0["wrapped_key"] as Data, version: $0["version"] as Int
                )
            }
        }
        guard let row else { return nil }
        let name = Name(environmentID: environmentID, contextKey: row.key, contextValue: row.value)
        let kek = try unwrap(id: id, wrapped: Array(row.wrapped), name: name, version: row.version)
        rememberByID(kek, environmentID: environmentID)
        return kek
    }

    /// Adds the next version of a pair's KEK (1 if it has none) and makes it the newest in this
    /// process at once. The version is computed and inserted in one immediate write transaction,
    /// so concurrent rotations (in any process) end with consecutive versions; the unique
    /// (pair, version) constraint is the backstop, retried.
    func rotate(_ name: Name) async throws -> KEK {
        let select = try StatementArguments.checked([name.environmentID, name.contextKey, name.contextValue])
        for attempt in 1...5 {
            let id = try Identifier.randomString()
            let key = try DataKey.generate()
            let rootKey = self.rootKey
            do {
                let version = try await store.pool.writeWithoutTransaction { db in
                    var version = 0
                    try db.inTransaction(.immediate) {
                        let newest = try Int.fetchOne(
                            db,
                            sql: """
                                SELECT COALESCE(MAX(version), 0) FROM keks
                                WHERE environment_id = ? AND context_key = ? AND context_value = ?
                                """,
                            arguments: select
                        )
                        version = (newest ?? 0) + 1
                        let wrapped = try rootKey.wrap(
                            key,
                            associatedData: Self.associatedData(id: id, name: name, version: version)
                        )
                        try db.execute(
                            sql: """
                                INSERT INTO keks (id, environment_id, context_key, context_value, version, wrapped_key,
                                                  created_at)
                                VALUES (?, ?, ?, ?, ?, ?, ?)
                                """,
                            arguments: try StatementArguments.checked([
                                id, name.environmentID, name.contextKey, name.contextValue, version, Data(wrapped),
                                Date().storedMilliseconds,
                            ])
                        )
                        return .commit
                    }
                    return version
                }
                let kek = KEK(id: id, key: key, version: version)
                remember(kek, name: name)
                return kek
            } catch let error as DatabaseError where error.isUniqueConstraintViolation && attempt < 5 {
                continue
            }
        }
        throw LocalVaultError(.internalError, "a new key-encrypting key version could not be stored")
    }

    /// Drops KEKs from this process's caches (retired versions must stop unwrapping at once).
    func forget(ids: Set<String>) {
        byID.withLock { cache in for id in ids { cache[id] = nil } }
        byName.withLock { cache in cache = cache.filter { !ids.contains($0.value.id) } }
    }

    private func unwrap(id: String, wrapped: [UInt8], name: Name, version: Int) throws -> KEK {
        do {
            let key = try rootKey.unwrap(
                wrapped[...],
                associatedData: Self.associatedData(id: id, name: name, version: version)
            )
            return KEK(id: id, key: key, version: version)
        } catch {
            throw Self.doesNotOpen
        }
    }

    private static let doesNotOpen = LocalVaultError(
        .internalError,
        "a stored key-encrypting key does not open with this root key (wrong root key or altered store)"
    )

    /// Caches `kek` as the newest version of `name` (unless a newer one is cached) and by id.
    private func remember(_ kek: KEK, name: Name) {
        byName.withLock { cache in
            if cache.count >= Self.cacheLimit { cache.removeAll() }
            if let cached = cache[name], cached.version > kek.version { return }
            cache[name] = kek
        }
        rememberByID(kek, environmentID: name.environmentID)
    }

    /// Caches an older version by id only: it must not become the pair's newest.
    private func rememberByID(_ kek: KEK, environmentID: String) {
        let name = (environmentID: environmentID, kek: kek)
        byID.withLock { cache in
            if cache.count >= Self.cacheLimit { cache.removeAll() }
            cache[kek.id] = name
        }
    }

    /// Binds a wrapped KEK to its row: a row edited to point at another context, or (from version
    /// 2 on) renumbered, no longer opens. Version 1 keeps the form of the rows written before
    /// versions existed.
    static func associatedData(id: String, name: Name, version: Int) -> [UInt8] {
        let base = "lvs.kek\0\(id)\0\(name.environmentID)\0\(name.contextKey)\0\(name.contextValue)"
        return Array((version <= 1 ? base : "\(base)\0v\(version)").utf8)
    }
}
