import LocalVault
import PostgresNIO
import VaultAPI

/// The rows as they are, page by page, for a copy from or to another store (``StoreRowBatch``).
/// Keys are compared and ordered byte for byte (`COLLATE "C"`, the ids' own collation), as
/// SQLite does. An imported page is one multi-row INSERT per table, every value bound.
extension PostgresStorage {
    package func exportRows(after cursor: StoreCursor?, limit: Int) async throws -> StoreRowBatch {
        let cursor = cursor ?? .start
        let limit = max(limit, 1)
        let table = cursor.table
        let statement = Self.exportStatement(table)
        let key = cursor.lastKey
        let query: StorageQuery
        switch (key.count, table == .idempotencyRecords) {
        case (0, _):
            query = "\(statement.selection) ORDER BY \(statement.order) LIMIT \(limit)"
        case (1, false):
            query =
                "\(statement.selection) WHERE \(statement.key) > \(key[0]) ORDER BY \(statement.order) LIMIT \(limit)"
        case (2, true):
            query = """
                \(statement.selection)
                WHERE scope COLLATE "C" > \(key[0]) OR (scope = \(key[0]) AND key COLLATE "C" > \(key[1]))
                ORDER BY \(statement.order) LIMIT \(limit)
                """
        default:
            throw LocalVaultError(.internalError, "the export cursor does not fit its table")
        }
        return try await withConnection { connection in
            let fetched = try await connection.rows(query)
            let (rows, lastKey) = try Self.rows(of: table, fetched)
            return StoreRowBatch(
                rows: rows,
                next: StoreCursor.after(table, lastKey: lastKey, count: fetched.count, limit: limit)
            )
        }
    }

    package func importRows(_ batch: StoreRowBatch) async throws {
        let statements = Self.insertions(batch.rows)
        guard !statements.isEmpty else { return }
        try await inTransaction { connection in
            for statement in statements { try await connection.run(statement) }
        }
    }

    package func isEmpty() async throws -> Bool {
        try await withConnection { connection in
            try await connection.rows(
                """
                SELECT NOT (EXISTS (SELECT 1 FROM meta) OR EXISTS (SELECT 1 FROM keks)
                            OR EXISTS (SELECT 1 FROM keks_quarantine) OR EXISTS (SELECT 1 FROM objects)
                            OR EXISTS (SELECT 1 FROM object_versions) OR EXISTS (SELECT 1 FROM idempotency_keys)
                            OR EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM event_chain_heads))
                """
            )[0].decode(Bool.self)
        }
    }

    package func rowCounts() async throws -> StoreRowCounts {
        try await withConnection { connection in
            let row = try await connection.rows(
                """
                SELECT (SELECT COUNT(*) FROM meta), (SELECT COUNT(*) FROM keks), (SELECT COUNT(*) FROM keks_quarantine),
                       (SELECT COUNT(*) FROM objects), (SELECT COUNT(*) FROM object_versions),
                       (SELECT COUNT(*) FROM idempotency_keys), (SELECT COUNT(*) FROM events),
                       (SELECT COUNT(*) FROM event_chain_heads)
                """
            )[0]
            let (meta, keks, quarantined, objects, versions, records, events, heads) = try row.decode(
                (Int, Int, Int, Int, Int, Int, Int, Int).self
            )
            var counts = StoreRowCounts()
            counts.meta = meta
            counts.keks = keks
            counts.quarantinedKEKs = quarantined
            counts.objects = objects
            counts.objectVersions = versions
            counts.idempotencyRecords = records
            counts.events = events
            counts.eventChainHeads = heads
            return counts
        }
    }

    // MARK: Export

    /// A table's rows: the selection, its key column (compared byte for byte), the key order.
    private static func exportStatement(_ table: StoreTable) -> (selection: SQLText, key: SQLText, order: SQLText) {
        switch table {
        case .meta:
            (SQLText("SELECT name, value FROM meta"), SQLText("name COLLATE \"C\""), SQLText("name COLLATE \"C\""))
        case .keks:
            (
                SQLText(
                    "SELECT id, environment_id, context_key, context_value, version, wrapped_key, created_at, retired_at FROM keks"
                ),
                SQLText("id"), SQLText("id")
            )
        case .quarantinedKEKs:
            (
                SQLText(
                    """
                    SELECT id, environment_id, context_key, context_value, version, wrapped_key, created_at,
                           quarantined_at
                    FROM keks_quarantine
                    """
                ),
                SQLText("id"), SQLText("id")
            )
        case .objects:
            (
                SQLText(
                    """
                    SELECT id, environment_id, name, key_context, created_at, updated_at, updated_by_id,
                           updated_by_name, current_version_id, deleted_at, purge_at
                    FROM objects
                    """
                ),
                SQLText("id"), SQLText("id")
            )
        case .objectVersions:
            (
                SQLText(
                    """
                    SELECT id, object_id, number, created_at, created_by_id, created_by_name, size, etag, data_key_id,
                           sealed_value
                    FROM object_versions
                    """
                ),
                SQLText("id"), SQLText("id")
            )
        case .idempotencyRecords:
            (
                SQLText("SELECT scope, key, request_hash, status, body, created_at FROM idempotency_keys"),
                SQLText("scope COLLATE \"C\""), SQLText("scope COLLATE \"C\", key COLLATE \"C\"")
            )
        case .events:
            (
                SQLText(
                    """
                    SELECT environment_id, sequence, id, type, data, created_at, organization_id, prev_hash, hash
                    FROM events
                    """
                ),
                SQLText("id"), SQLText("id")
            )
        case .eventChainHeads:
            (
                SQLText("SELECT environment_id, sequence, hash FROM event_chain_heads"),
                SQLText("environment_id COLLATE \"C\""), SQLText("environment_id COLLATE \"C\"")
            )
        }
    }

    /// The rows read, and the key of the last one.
    private static func rows(of table: StoreTable, _ rows: [PostgresRow]) throws -> (StoreRows, [String]?) {
        switch table {
        case .meta:
            let meta = try rows.map { row in
                let (name, value) = try row.decode((String, ByteBuffer).self)
                return StoreRow.Meta(name: name, value: value.bytes)
            }
            return (.meta(meta), meta.last.map { [$0.name] })
        case .keks:
            let keks = try rows.map { row in
                let (id, environmentID, contextKey, contextValue, version, wrapped, createdAt, retiredAt) =
                    try row.decode((String, String, String, String, Int, ByteBuffer, Int64, Int64?).self)
                return StoreRow.KEK(
                    kek: StoredKEK(
                        id: id,
                        name: KEKName(environmentID: environmentID, contextKey: contextKey, contextValue: contextValue),
                        version: version,
                        wrappedKey: wrapped.bytes,
                        createdAt: createdAt
                    ),
                    retiredAt: retiredAt
                )
            }
            return (.keks(keks), keks.last.map { [$0.kek.id] })
        case .quarantinedKEKs:
            let quarantined = try rows.map { row in
                let (id, environmentID, contextKey, contextValue, version, wrapped, createdAt, quarantinedAt) =
                    try row.decode((String, String, String, String, Int, ByteBuffer, Int64, Int64).self)
                return StoreRow.QuarantinedKEK(
                    id: id,
                    name: KEKName(environmentID: environmentID, contextKey: contextKey, contextValue: contextValue),
                    version: version,
                    wrappedKey: wrapped.bytes,
                    createdAt: createdAt,
                    quarantinedAt: quarantinedAt
                )
            }
            return (.quarantinedKEKs(quarantined), quarantined.last.map { [$0.id] })
        case .objects:
            let objects = try rows.map { row in
                let (
                    id, environmentID, name, context, createdAt, updatedAt, actorID, actorName, current, deleted, purge
                ) =
                    try row.decode(
                        (String, String, String, String, Int64, Int64, String, String, String, Int64?, Int64?).self
                    )
                return StoreRow.Object(
                    id: id,
                    environmentID: environmentID,
                    name: name,
                    contextJSON: context,
                    createdAt: createdAt,
                    updatedAt: updatedAt,
                    updatedBy: VaultActor(id: actorID, name: actorName),
                    currentVersionID: current,
                    deletedAt: deleted,
                    purgeAt: purge
                )
            }
            return (.objects(objects), objects.last.map { [$0.id] })
        case .objectVersions:
            let versions = try rows.map { row in
                let (id, objectID, number, createdAt, actorID, actorName, size, etag, dataKeyID, sealed) =
                    try row.decode((String, String, Int, Int64, String, String, Int, String, String, ByteBuffer).self)
                return StoreRow.ObjectVersion(
                    id: id,
                    objectID: objectID,
                    number: number,
                    createdAt: createdAt,
                    createdBy: VaultActor(id: actorID, name: actorName),
                    size: size,
                    etag: etag,
                    dataKeyID: dataKeyID,
                    sealedValue: sealed.bytes
                )
            }
            return (.objectVersions(versions), versions.last.map { [$0.id] })
        case .idempotencyRecords:
            let records = try rows.map { row in
                let (scope, key, hash, status, body, createdAt) = try row.decode(
                    (String, String, String, Int?, ByteBuffer?, Int64).self
                )
                return StoreRow.IdempotencyRecord(
                    scope: scope,
                    key: key,
                    requestHash: hash,
                    status: status,
                    sealedBody: body?.bytes,
                    createdAt: createdAt
                )
            }
            return (.idempotencyRecords(records), records.last.map { [$0.scope, $0.key] })
        case .events:
            let events = try rows.map(storedEvent(from:))
            return (.events(events), events.last.map { [$0.event.id] })
        case .eventChainHeads:
            let heads = try rows.map { row in
                let (environmentID, sequence, hash) = try row.decode((String, Int64, String).self)
                return StoreRow.EventChainHeadRow(
                    environmentID: environmentID,
                    head: EventChainHead(sequence: sequence, hash: hash)
                )
            }
            return (.eventChainHeads(heads), heads.last.map { [$0.environmentID] })
        }
    }

    // MARK: Import

    /// INSERTs of every row (none for no row). Each row's values are bound, text holding NUL refused.
    private static func insertions(_ rows: StoreRows) -> [StorageQuery] {
        switch rows {
        case .meta(let rows):
            return values(SQLText("INSERT INTO meta (name, value) VALUES"), rows) { row, sql in
                sql.list(.text(row.name), .bytes(row.value))
            }
        case .keks(let rows):
            return values(
                SQLText(
                    """
                    INSERT INTO keks (id, environment_id, context_key, context_value, version, wrapped_key, created_at,
                                      retired_at) VALUES
                    """
                ),
                rows
            ) { row, sql in
                let kek = row.kek
                sql.list(
                    .text(kek.id),
                    .text(kek.name.environmentID),
                    .text(kek.name.contextKey),
                    .text(kek.name.contextValue),
                    .number(Int64(kek.version)),
                    .bytes(kek.wrappedKey),
                    .number(kek.createdAt),
                    .number(row.retiredAt)
                )
            }
        case .quarantinedKEKs(let rows):
            return values(
                SQLText(
                    """
                    INSERT INTO keks_quarantine (id, environment_id, context_key, context_value, version, wrapped_key,
                                                 created_at, quarantined_at) VALUES
                    """
                ),
                rows
            ) { row, sql in
                // SQLite's quarantine keeps no version: such a row gets the column's default, 1.
                sql.list(
                    .text(row.id),
                    .text(row.name.environmentID),
                    .text(row.name.contextKey),
                    .text(row.name.contextValue),
                    .number(Int64(row.version ?? 1)),
                    .bytes(row.wrappedKey),
                    .number(row.createdAt),
                    .number(row.quarantinedAt)
                )
            }
        case .objects(let rows):
            return values(
                SQLText(
                    """
                    INSERT INTO objects (id, environment_id, name, key_context, created_at, updated_at, updated_by_id,
                                         updated_by_name, current_version_id, deleted_at, purge_at) VALUES
                    """
                ),
                rows
            ) { row, sql in
                sql.list(
                    .text(row.id),
                    .text(row.environmentID),
                    .text(row.name),
                    .text(row.contextJSON),
                    .number(row.createdAt),
                    .number(row.updatedAt),
                    .text(row.updatedBy.id),
                    .text(row.updatedBy.name),
                    .text(row.currentVersionID),
                    .number(row.deletedAt),
                    .number(row.purgeAt)
                )
            }
        case .objectVersions(let rows):
            return values(
                SQLText(
                    """
                    INSERT INTO object_versions (id, object_id, number, created_at, created_by_id, created_by_name,
                                                 size, etag, data_key_id, sealed_value) VALUES
                    """
                ),
                rows
            ) { row, sql in
                sql.list(
                    .text(row.id),
                    .text(row.objectID),
                    .number(Int64(row.number)),
                    .number(row.createdAt),
                    .text(row.createdBy.id),
                    .text(row.createdBy.name),
                    .number(Int64(row.size)),
                    .text(row.etag),
                    .text(row.dataKeyID),
                    .bytes(row.sealedValue)
                )
            }
        case .idempotencyRecords(let rows):
            return values(
                SQLText(
                    """
                    INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at) VALUES
                    """
                ),
                rows
            ) { row, sql in
                sql.list(
                    .text(row.scope),
                    .text(row.key),
                    .text(row.requestHash),
                    .number(row.status.map(Int64.init)),
                    .bytes(row.sealedBody),
                    .number(row.createdAt)
                )
            }
        case .events(let rows):
            return values(
                SQLText(
                    """
                    INSERT INTO events (environment_id, sequence, id, type, data, created_at, organization_id,
                                        prev_hash, hash) VALUES
                    """
                ),
                rows
            ) { row, sql in
                sql.list(
                    .text(row.event.environmentID),
                    .number(row.sequence),
                    .text(row.event.id),
                    .text(row.event.type),
                    .text(row.event.dataJSON),
                    .number(row.event.createdAt),
                    .optionalText(row.event.organizationID),
                    .text(row.prevHash),
                    .text(row.hash)
                )
            }
        case .eventChainHeads(let rows):
            return values(
                SQLText("INSERT INTO event_chain_heads (environment_id, sequence, hash) VALUES"),
                rows
            ) { row, sql in
                sql.list(.text(row.environmentID), .number(row.head.sequence), .text(row.head.hash))
            }
        }
    }

    /// Rows per INSERT: far below the protocol's 32,767 bound values at 11 columns.
    private static let rowsPerInsert = 100

    /// `head` followed by one parenthesized tuple per row (written by `tuple`), in INSERTs of
    /// ``rowsPerInsert`` rows at most.
    private static func values<Row>(
        _ head: SQLText,
        _ rows: [Row],
        tuple: (Row, inout StorageQuery.StringInterpolation) -> Void
    ) -> [StorageQuery] {
        stride(from: 0, to: rows.count, by: rowsPerInsert).map { start in
            let chunk = rows[start..<min(start + rowsPerInsert, rows.count)]
            var sql = StorageQuery.StringInterpolation(literalCapacity: 256, interpolationCount: chunk.count * 11)
            sql.appendInterpolation(head)
            for (index, row) in chunk.enumerated() {
                sql.appendLiteral(index == 0 ? " (" : ", (")
                tuple(row, &sql)
                sql.appendLiteral(")")
            }
            return StorageQuery(stringInterpolation: sql)
        }
    }
}

/// A value of an imported row, bound as its column's type (NULL when absent).
private enum BoundValue {
    case text(String)
    case optionalText(String?)
    case number(Int64?)
    case bytes([UInt8]?)
}

extension StorageQuery.StringInterpolation {
    /// The values, bound and separated by commas.
    fileprivate mutating func list(_ values: BoundValue...) {
        for (index, value) in values.enumerated() {
            if index > 0 { appendLiteral(", ") }
            switch value {
            case .text(let text): appendInterpolation(text)
            case .optionalText(let text): appendInterpolation(text)
            case .number(let number): appendInterpolation(number)
            case .bytes(let bytes?): appendInterpolation(bytes)
            case .bytes(nil): appendInterpolation(nil as String?)
            }
        }
    }
}
