import Foundation
import GRDB

/// Key-encrypting keys: versions 1...n per pair, each wrapped under the root key.
extension SQLiteStorage {
    func insertFirstKEK(_ candidate: StoredKEK, event: NewVaultEvent?) async throws -> StoredKEK? {
        let name = candidate.name
        let insert = try StatementArguments.checked([
            candidate.id, name.environmentID, name.contextKey, name.contextValue, candidate.version,
            Data(candidate.wrappedKey), candidate.createdAt,
        ])
        let select = try Self.pairArguments(name)
        return try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO keks (id, environment_id, context_key, context_value, version, wrapped_key, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """,
                arguments: insert
            )
            if let event, db.changesCount == 1 { try Self.append([event], db: db) }
            return try Row.fetchOne(
                db,
                sql: """
                    SELECT \(Self.kekColumns) FROM keks
                    WHERE environment_id = ? AND context_key = ? AND context_value = ? AND retired_at IS NULL
                    ORDER BY version DESC LIMIT 1
                    """,
                arguments: select
            ).map(Self.storedKEK)
        }
    }

    func quarantineKEK(id: String, at instant: Int64) async throws {
        let arguments = try StatementArguments.checked([instant, id, id])
        try await write { db in
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
    }

    func kek(id: String, environmentID: String) async throws -> StoredKEK? {
        let arguments = try StatementArguments.checked([id, environmentID])
        return try await read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT \(Self.kekColumns) FROM keks WHERE id = ? AND environment_id = ? AND retired_at IS NULL",
                arguments: arguments
            ).map(Self.storedKEK)
        }
    }

    /// The version is computed and inserted in one write transaction, which GRDB opens
    /// `IMMEDIATE`: no other writer, in any process, runs between the two.
    func insertNextKEKVersion(
        of name: KEKName,
        id: String,
        createdAt: Int64,
        wrap: @escaping @Sendable (Int) throws -> [UInt8]
    ) async throws -> Int {
        let select = try Self.pairArguments(name)
        return try await write { db in
            let newest = try Int.fetchOne(
                db,
                sql: """
                    SELECT COALESCE(MAX(version), 0) FROM keks
                    WHERE environment_id = ? AND context_key = ? AND context_value = ?
                    """,
                arguments: select
            )
            let version = (newest ?? 0) + 1
            try db.execute(
                sql: """
                    INSERT INTO keks (id, environment_id, context_key, context_value, version, wrapped_key, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: try StatementArguments.checked([
                    id, name.environmentID, name.contextKey, name.contextValue, version, Data(try wrap(version)),
                    createdAt,
                ])
            )
            return version
        }
    }

    func newestKEKVersion(of name: KEKName) async throws -> Int? {
        let arguments = try Self.pairArguments(name)
        return try await read { db in
            try Int.fetchOne(
                db,
                sql: "SELECT MAX(version) FROM keks WHERE environment_id = ? AND context_key = ? AND context_value = ?",
                arguments: arguments
            )
        }
    }

    func pairsWithNewestKEK(createdBefore cutoff: Int64) async throws -> [KEKName] {
        let arguments = try StatementArguments.checked([cutoff])
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT environment_id, context_key, context_value FROM keks
                    GROUP BY environment_id, context_key, context_value
                    HAVING MAX(created_at) < ?
                    """,
                arguments: arguments
            ).map(Self.kekName)
        }
    }

    func activeKEKIDs(of name: KEKName, below version: Int) async throws -> Set<String> {
        let arguments = try StatementArguments.checked([
            name.environmentID, name.contextKey, name.contextValue, version,
        ])
        return try await read { db in
            try String.fetchSet(
                db,
                sql: """
                    SELECT id FROM keks WHERE environment_id = ? AND context_key = ? AND context_value = ?
                    AND version < ? AND retired_at IS NULL
                    """,
                arguments: arguments
            )
        }
    }

    func retireKEKs(of name: KEKName, below version: Int, at instant: Int64) async throws -> Int {
        let arguments = try StatementArguments.checked([
            instant, name.environmentID, name.contextKey, name.contextValue, version,
        ])
        return try await write { db in
            try db.execute(
                sql: """
                    UPDATE keks SET retired_at = ? WHERE environment_id = ? AND context_key = ? AND context_value = ?
                    AND version < ? AND retired_at IS NULL
                    """,
                arguments: arguments
            )
            return db.changesCount
        }
    }

    /// One write transaction, which GRDB opens `IMMEDIATE`: the single writer is the lock, and
    /// the due pairs are read inside it.
    func rotateKEKs(
        newestCreatedBefore cutoff: Int64,
        includes: @escaping @Sendable (KEKName) -> Bool,
        newVersion: @escaping @Sendable (KEKName, Int) throws -> StoredKEK
    ) async throws -> [StoredKEK] {
        let due = try StatementArguments.checked([cutoff])
        return try await write { db in
            let pairs = try Row.fetchAll(
                db,
                sql: """
                    SELECT environment_id, context_key, context_value, MAX(version) AS newest FROM keks
                    GROUP BY environment_id, context_key, context_value
                    HAVING MAX(created_at) < ?
                    """,
                arguments: due
            )
            var inserted: [StoredKEK] = []
            for pair in pairs {
                let name = Self.kekName(pair)
                guard includes(name) else { continue }
                let kek = try newVersion(name, (pair["newest"] as Int) + 1)
                try db.execute(
                    sql: """
                        INSERT INTO keks (id, environment_id, context_key, context_value, version, wrapped_key,
                                          created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: try StatementArguments.checked([
                        kek.id, name.environmentID, name.contextKey, name.contextValue, kek.version,
                        Data(kek.wrappedKey), kek.createdAt,
                    ])
                )
                inserted.append(kek)
            }
            return inserted
        }
    }

    // MARK: Rows

    static let kekColumns = "id, environment_id, context_key, context_value, version, wrapped_key, created_at"

    /// A row of ``kekColumns``.
    static func storedKEK(_ row: Row) -> StoredKEK {
        StoredKEK(
            id: row["id"],
            name: kekName(row),
            version: row["version"],
            wrappedKey: Array(row["wrapped_key"] as Data),
            createdAt: row["created_at"]
        )
    }

    private static func kekName(_ row: Row) -> KEKName {
        KEKName(
            environmentID: row["environment_id"],
            contextKey: row["context_key"],
            contextValue: row["context_value"]
        )
    }

    private static func pairArguments(_ name: KEKName) throws -> StatementArguments {
        try StatementArguments.checked([name.environmentID, name.contextKey, name.contextValue])
    }
}
