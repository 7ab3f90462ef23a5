import Foundation
import GRDB
import VaultAPI

/// The rows as they are, page by page, for a copy to another store (``StoreRowBatch``). SQLite
/// compares text byte for byte (BINARY), so the primary-key order is the bytes' order.
extension SQLiteStorage {
    func exportRows(after cursor: StoreCursor?, limit: Int) async throws -> StoreRowBatch {
        let cursor = cursor ?? .start
        let limit = max(limit, 1)
        let table = cursor.table
        let statement = Self.exportStatement(table)
        let keyWidth = table == .idempotencyRecords ? 2 : 1
        let sql: String
        let arguments: StatementArguments
        switch cursor.lastKey.count {
        case 0:
            sql = "\(statement.selection) ORDER BY \(statement.order) LIMIT ?"
            arguments = try StatementArguments.checked([limit])
        case keyWidth:
            sql = "\(statement.selection) WHERE \(statement.after) ORDER BY \(statement.order) LIMIT ?"
            let key = cursor.lastKey
            arguments = try StatementArguments.checked(
                keyWidth == 2 ? [key[0], key[0], key[1], limit] : [key[0], limit]
            )
        default:
            throw LocalVaultError(.internalError, "the export cursor does not fit its table")
        }
        return try await read { db in
            let fetched = try Row.fetchAll(db, sql: sql, arguments: arguments)
            let rows = Self.rows(of: table, fetched)
            let lastKey = fetched.last.map { row -> [String] in
                switch table {
                case .idempotencyRecords: [row["scope"] as String, row["key"] as String]
                case .events: [row["id"] as String]
                default: [row[0] as String]
                }
            }
            return StoreRowBatch(
                rows: rows,
                next: StoreCursor.after(table, lastKey: lastKey, count: fetched.count, limit: limit)
            )
        }
    }

    func importRows(_ batch: StoreRowBatch) async throws {
        let statements = try Self.insertions(batch.rows)
        try await write { db in
            for (sql, arguments) in statements { try db.execute(sql: sql, arguments: arguments) }
        }
    }

    func isEmpty() async throws -> Bool {
        try await read { db in
            for table in StoreTable.allCases {
                if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM \(table.name))") == true { return false }
            }
            return true
        }
    }

    func rowCounts() async throws -> StoreRowCounts {
        try await read { db in
            var counts = StoreRowCounts()
            for table in StoreTable.allCases {
                counts[table] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table.name)") ?? 0
            }
            return counts
        }
    }

    // MARK: Statements

    /// A table's rows: the selection, the condition "after the cursor's key", the key order.
    private static func exportStatement(_ table: StoreTable) -> (selection: String, after: String, order: String) {
        switch table {
        case .meta:
            ("SELECT name, value FROM meta", "name > ?", "name")
        case .keks:
            ("SELECT \(kekColumns), retired_at FROM keks", "id > ?", "id")
        case .quarantinedKEKs:
            (
                """
                SELECT id, environment_id, context_key, context_value, wrapped_key, created_at, quarantined_at
                FROM keks_quarantine
                """,
                "id > ?", "id"
            )
        case .objects:
            (
                """
                SELECT id, environment_id, name, key_context, created_at, updated_at, updated_by_id, updated_by_name,
                       current_version_id, deleted_at, purge_at
                FROM objects
                """,
                "id > ?", "id"
            )
        case .objectVersions:
            (
                """
                SELECT id, object_id, number, created_at, created_by_id, created_by_name, size, etag, data_key_id,
                       sealed_value
                FROM object_versions
                """,
                "id > ?", "id"
            )
        case .idempotencyRecords:
            (
                "SELECT scope, key, request_hash, status, body, created_at FROM idempotency_keys",
                "(scope > ? OR (scope = ? AND key > ?))", "scope, key"
            )
        case .events:
            ("SELECT \(eventColumns) FROM events", "id > ?", "id")
        case .eventChainHeads:
            ("SELECT environment_id, sequence, hash FROM event_chain_heads", "environment_id > ?", "environment_id")
        }
    }

    private static func rows(of table: StoreTable, _ rows: [Row]) -> StoreRows {
        switch table {
        case .meta:
            return .meta(rows.map { StoreRow.Meta(name: $0["name"], value: Array($0["value"] as Data)) })
        case .keks:
            return .keks(rows.map { StoreRow.KEK(kek: storedKEK($0), retiredAt: $0["retired_at"]) })
        case .quarantinedKEKs:
            return .quarantinedKEKs(
                rows.map {
                    StoreRow.QuarantinedKEK(
                        id: $0["id"],
                        name: KEKName(
                            environmentID: $0["environment_id"],
                            contextKey: $0["context_key"],
                            contextValue: $0["context_value"]
                        ),
                        version: nil,
                        wrappedKey: Array($0["wrapped_key"] as Data),
                        createdAt: $0["created_at"],
                        quarantinedAt: $0["quarantined_at"]
                    )
                }
            )
        case .objects:
            return .objects(
                rows.map {
                    StoreRow.Object(
                        id: $0["id"],
                        environmentID: $0["environment_id"],
                        name: $0["name"],
                        contextJSON: $0["key_context"],
                        createdAt: $0["created_at"],
                        updatedAt: $0["updated_at"],
                        updatedBy: VaultActor(id: $0["updated_by_id"], name: $0["updated_by_name"]),
                        currentVersionID: $0["current_version_id"],
                        deletedAt: $0["deleted_at"],
                        purgeAt: $0["purge_at"]
                    )
                }
            )
        case .objectVersions:
            return .objectVersions(
                rows.map {
                    StoreRow.ObjectVersion(
                        id: $0["id"],
                        objectID: $0["object_id"],
                        number: $0["number"],
                        createdAt: $0["created_at"],
                        createdBy: VaultActor(id: $0["created_by_id"], name: $0["created_by_name"]),
                        size: $0["size"],
                        etag: $0["etag"],
                        dataKeyID: $0["data_key_id"],
                        sealedValue: Array($0["sealed_value"] as Data)
                    )
                }
            )
        case .idempotencyRecords:
            return .idempotencyRecords(
                rows.map {
                    StoreRow.IdempotencyRecord(
                        scope: $0["scope"],
                        key: $0["key"],
                        requestHash: $0["request_hash"],
                        status: $0["status"],
                        sealedBody: ($0["body"] as Data?).map(Array.init),
                        createdAt: $0["created_at"]
                    )
                }
            )
        case .events:
            return .events(rows.map(storedEvent))
        case .eventChainHeads:
            return .eventChainHeads(
                rows.map {
                    StoreRow.EventChainHeadRow(
                        environmentID: $0["environment_id"],
                        head: EventChainHead(sequence: $0["sequence"], hash: $0["hash"])
                    )
                }
            )
        }
    }

    /// One INSERT per row, every value bound (and text holding NUL refused, as everywhere).
    private static func insertions(_ rows: StoreRows) throws -> [(String, StatementArguments)] {
        switch rows {
        case .meta(let rows):
            return try rows.map {
                ("INSERT INTO meta (name, value) VALUES (?, ?)", try .checked([$0.name, Data($0.value)]))
            }
        case .keks(let rows):
            return try rows.map { row in
                let kek = row.kek
                return (
                    """
                    INSERT INTO keks (id, environment_id, context_key, context_value, version, wrapped_key, created_at,
                                      retired_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    try .checked([
                        kek.id, kek.name.environmentID, kek.name.contextKey, kek.name.contextValue, kek.version,
                        Data(kek.wrappedKey), kek.createdAt, row.retiredAt,
                    ])
                )
            }
        case .quarantinedKEKs(let rows):
            // SQLite's quarantine keeps no version: a row's version is dropped here.
            return try rows.map { row in
                (
                    """
                    INSERT INTO keks_quarantine (id, environment_id, context_key, context_value, wrapped_key,
                                                 created_at, quarantined_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                    try .checked([
                        row.id, row.name.environmentID, row.name.contextKey, row.name.contextValue,
                        Data(row.wrappedKey), row.createdAt, row.quarantinedAt,
                    ])
                )
            }
        case .objects(let rows):
            return try rows.map { row in
                (
                    """
                    INSERT INTO objects (id, environment_id, name, key_context, created_at, updated_at, updated_by_id,
                                         updated_by_name, current_version_id, deleted_at, purge_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    try .checked([
                        row.id, row.environmentID, row.name, row.contextJSON, row.createdAt, row.updatedAt,
                        row.updatedBy.id, row.updatedBy.name, row.currentVersionID, row.deletedAt, row.purgeAt,
                    ])
                )
            }
        case .objectVersions(let rows):
            return try rows.map { row in
                (
                    """
                    INSERT INTO object_versions (id, object_id, number, created_at, created_by_id, created_by_name,
                                                 size, etag, data_key_id, sealed_value)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    try .checked([
                        row.id, row.objectID, row.number, row.createdAt, row.createdBy.id, row.createdBy.name,
                        row.size, row.etag, row.dataKeyID, Data(row.sealedValue),
                    ])
                )
            }
        case .idempotencyRecords(let rows):
            return try rows.map { row in
                (
                    """
                    INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                    try .checked([
                        row.scope, row.key, row.requestHash, row.status, row.sealedBody.map { Data($0) },
                        row.createdAt,
                    ])
                )
            }
        case .events(let rows):
            return try rows.map { row in
                let event = row.event
                return (
                    """
                    INSERT INTO events (environment_id, sequence, id, type, data, created_at, organization_id,
                                        prev_hash, hash)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    try .checked([
                        event.environmentID, row.sequence, event.id, event.type, event.dataJSON, event.createdAt,
                        event.organizationID, row.prevHash, row.hash,
                    ])
                )
            }
        case .eventChainHeads(let rows):
            return try rows.map { row in
                (
                    "INSERT INTO event_chain_heads (environment_id, sequence, hash) VALUES (?, ?, ?)",
                    try .checked([row.environmentID, row.head.sequence, row.head.hash])
                )
            }
        }
    }
}
