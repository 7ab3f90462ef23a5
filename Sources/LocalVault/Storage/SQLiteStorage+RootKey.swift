import Foundation
import GRDB

/// The store itself: the root-key check value, where a rotation put the new key, and the
/// rotation's re-wrap of every row sealed under the root key.
extension SQLiteStorage {
    func rootKeyState() async throws -> RootKeyStoreState { try await read(Self.rootKeyState) }

    /// ``rootKeyState()`` for the synchronous ``LocalVault/init(configuration:)``.
    func rootKeyStateSync() throws -> RootKeyStoreState {
        do {
            return try pool.read(Self.rootKeyState)
        } catch {
            throw Self.mapped(error)
        }
    }

    func recordRootKeyCheck(_ candidate: [UInt8]) async throws -> [UInt8]? {
        try await write { db in try Self.recordRootKeyCheck(candidate, db: db) }
    }

    /// ``recordRootKeyCheck(_:)`` for the synchronous ``LocalVault/init(configuration:)``.
    func recordRootKeyCheckSync(_ candidate: [UInt8]) throws -> [UInt8]? {
        do {
            return try pool.write { db in try Self.recordRootKeyCheck(candidate, db: db) }
        } catch {
            throw Self.mapped(error)
        }
    }

    func rotateRootKey(
        _ rewrap: RootKeyRewrap,
        newKeyLocation: String,
        beforeCommit: @escaping @Sendable () throws -> Void
    ) async throws -> RootKeyRewrap.Counts {
        // Exclusive: not even a reader in another process sees a half-rotated store.
        try await write(.exclusive) { db in
            var counts = RootKeyRewrap.Counts()
            let keks = try Row.fetchAll(
                db,
                sql: "SELECT \(Self.kekColumns) FROM keks"
            )
            // Every row: each version of each pair, retired ones included (they stay in the store).
            for row in keks {
                let kek = Self.storedKEK(row)
                try db.execute(
                    sql: "UPDATE keks SET wrapped_key = ? WHERE id = ?",
                    arguments: try StatementArguments.checked([Data(try rewrap.rewrap(kek)), kek.id])
                )
                counts.keks += 1
            }
            let responses = try Row.fetchAll(
                db,
                sql: "SELECT scope, key, body FROM idempotency_keys WHERE body IS NOT NULL"
            )
            for row in responses {
                let (scope, key): (String, String) = (row["scope"], row["key"])
                if let resealed = try rewrap.reseal(scope: scope, key: key, sealedBody: Array(row["body"] as Data)) {
                    try db.execute(
                        sql: "UPDATE idempotency_keys SET body = ? WHERE scope = ? AND key = ?",
                        arguments: try StatementArguments.checked([Data(resealed), scope, key])
                    )
                    counts.resealedResponses += 1
                } else {
                    try db.execute(
                        sql: "DELETE FROM idempotency_keys WHERE scope = ? AND key = ?",
                        arguments: try StatementArguments.checked([scope, key])
                    )
                    counts.droppedResponses += 1
                }
            }
            try Self.setMeta(MetaName.rootKeyCheck, Data(try rewrap.newCheckValue()), db: db)
            try Self.setMeta(MetaName.rotatedKeyLocation, Data(newKeyLocation.utf8), db: db)
            try beforeCommit()
            return counts
        }
    }

    private static func rootKeyState(_ db: Database) throws -> RootKeyStoreState {
        let checkValue = try meta(MetaName.rootKeyCheck, db: db)
        let kek = try Row.fetchOne(
            db,
            sql: "SELECT \(kekColumns) FROM keks LIMIT 1"
        ).map(storedKEK)
        let holdsObjects = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM objects)") ?? false
        return RootKeyStoreState(
            checkValue: checkValue.map(Array.init),
            holdsData: checkValue != nil || kek != nil || holdsObjects,
            sampleKEK: kek,
            rotatedKeyLocation: try meta(MetaName.rotatedKeyLocation, db: db).map {
                String(decoding: $0, as: UTF8.self)
            }
        )
    }

    /// Another process opening the same store at the same moment may record its value first.
    private static func recordRootKeyCheck(_ candidate: [UInt8], db: Database) throws -> [UInt8]? {
        try db.execute(
            sql: "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
            arguments: try StatementArguments.checked([MetaName.rootKeyCheck, Data(candidate)])
        )
        return try meta(MetaName.rootKeyCheck, db: db).map(Array.init)
    }

    private static func meta(_ name: String, db: Database) throws -> Data? {
        try Data.fetchOne(
            db,
            sql: "SELECT value FROM meta WHERE name = ?",
            arguments: try StatementArguments.checked([name])
        )
    }

    private static func setMeta(_ name: String, _ value: Data, db: Database) throws {
        try db.execute(
            sql: "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            arguments: try StatementArguments.checked([name, value])
        )
    }
}
