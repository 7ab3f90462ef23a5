import EnvelopeCrypto
import Foundation
import GRDB
import Synchronization
import VaultAPI

/// The key-encrypting keys: one per (environment, context key, context value), created just in
/// time, stored wrapped under the root key, and kept unwrapped in memory once used.
final class KEKRing: Sendable {
    struct KEK: Sendable {
        let id: String
        let key: DataKey
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
        let wrapped = try rootKey.wrap(candidateKey, associatedData: Self.associatedData(id: candidateID, name: name))
        let row = try await insertOrFetch(id: candidateID, wrapped: wrapped, name: name)
        let kek: KEK
        if let opened = try? unwrap(id: row.id, wrapped: row.wrapped, name: name) {
            kek = opened
        } else {
            kek = try await heal(row: row, candidateID: candidateID, wrapped: wrapped, name: name)
        }
        remember(kek, name: name)
        return kek
    }

    /// Inserts the candidate KEK unless the pair has one, and reads the pair's row.
    private func insertOrFetch(id: String, wrapped: [UInt8], name: Name) async throws -> (id: String, wrapped: [UInt8])
    {
        let insert = try StatementArguments.checked([
            id, name.environmentID, name.contextKey, name.contextValue, Data(wrapped), Date().storedMilliseconds,
        ])
        let select = try StatementArguments.checked([name.environmentID, name.contextKey, name.contextValue])
        let row = try await store.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO keks (id, environment_id, context_key, context_value, wrapped_key, created_at)
                    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """,
                arguments: insert
            )
            return try Row.fetchOne(
                db,
                sql:
                    "SELECT id, wrapped_key FROM keks WHERE environment_id = ? AND context_key = ? AND context_value = ?",
                arguments: select
            ).map { (id: $0["id"] as String, wrapped: Array($0["wrapped_key"] as Data)) }
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
        row: (id: String, wrapped: [UInt8]),
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
        return try unwrap(id: fresh.id, wrapped: fresh.wrapped, name: name)
    }

    /// A KEK by id, if it exists in `environmentID`.
    func kek(id: String, environmentID: String) async throws -> KEK? {
        if let cached = byID.withLock({ $0[id] }) { return cached.environmentID == environmentID ? cached.kek : nil }
        // Ids are ours (lowercase UUIDs): one with a control character, read from a crafted
        // blob, names no KEK and must not be matched cut at a NUL.
        guard !ControlCharacters.occur(in: id) else { return nil }
        let arguments = try StatementArguments.checked([id, environmentID])
        let row = try await store.pool.read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT context_key, context_value, wrapped_key FROM keks WHERE id = ? AND environment_id = ?",
                arguments: arguments
            ).map {
                (
                    key: $0["context_key"] as String, value: $0["context_value"] as String,
                    wrapped: $0["wrapped_key"] as Data
                )
            }
        }
        guard let row else { return nil }
        let name = Name(environmentID: environmentID, contextKey: row.key, contextValue: row.value)
        let kek = try unwrap(id: id, wrapped: Array(row.wrapped), name: name)
        remember(kek, name: name)
        return kek
    }

    private func unwrap(id: String, wrapped: [UInt8], name: Name) throws -> KEK {
        do {
            let key = try rootKey.unwrap(wrapped[...], associatedData: Self.associatedData(id: id, name: name))
            return KEK(id: id, key: key)
        } catch {
            throw Self.doesNotOpen
        }
    }

    private static let doesNotOpen = LocalVaultError(
        .internalError,
        "a stored key-encrypting key does not open with this root key (wrong root key or altered store)"
    )

    private func remember(_ kek: KEK, name: Name) {
        byName.withLock { cache in
            if cache.count >= Self.cacheLimit { cache.removeAll() }
            cache[name] = kek
        }
        byID.withLock { cache in
            if cache.count >= Self.cacheLimit { cache.removeAll() }
            cache[kek.id] = (name.environmentID, kek)
        }
    }

    /// Binds a wrapped KEK to its row: a row edited to point at another context no longer opens.
    static func associatedData(id: String, name: Name) -> [UInt8] {
        Array("lvs.kek\0\(id)\0\(name.environmentID)\0\(name.contextKey)\0\(name.contextValue)".utf8)
    }
}
