import Foundation
import GRDB

/// Events: one hash chain per environment. Appends run in write transactions, so SQLite's
/// single writer orders them (in every process).
extension SQLiteStorage {
    func appendEvents(_ events: [NewVaultEvent]) async throws {
        guard !events.isEmpty else { return }
        try await write { db in try Self.append(events, db: db) }
    }

    /// Chains and inserts `events` inside the caller's write transaction.
    static func append(_ events: [NewVaultEvent], db: Database) throws {
        // Looked up once: a group commit inserts many rows with the one statement.
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO events (environment_id, sequence, id, type, data, created_at, organization_id,
                                    prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        )
        var heads: [String: EventChainHead] = [:]
        for event in events {
            let head = try heads[event.environmentID] ?? chainHead(of: event.environmentID, db: db)
            let row = EventChain.chained(event, after: head)
            try insert.execute(
                arguments: try StatementArguments.checked([
                    event.environmentID, row.sequence, event.id, event.type, event.dataJSON, event.createdAt,
                    event.organizationID, row.prevHash, row.hash,
                ])
            )
            heads[event.environmentID] = EventChainHead(sequence: row.sequence, hash: row.hash)
        }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO event_chain_heads (environment_id, sequence, hash) VALUES (?, ?, ?)
                ON CONFLICT (environment_id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash
                """
        )
        for (environmentID, head) in heads {
            try upsert.execute(arguments: try StatementArguments.checked([environmentID, head.sequence, head.hash]))
        }
    }

    /// Where the environment's chain ends, as stored.
    private static func chainHead(of environmentID: String, db: Database) throws -> EventChainHead {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT sequence, hash FROM event_chain_heads WHERE environment_id = ?"),
            arguments: try StatementArguments.checked([environmentID])
        ).map { EventChainHead(sequence: $0["sequence"], hash: $0["hash"]) } ?? .empty
    }

    func events(_ filter: EventFilter) async throws -> [StoredVaultEvent]? {
        guard !filter.types.isEmpty else { return [] }
        var conditions = ["environment_id = ?", "type IN (\(filter.types.map { _ in "?" }.joined(separator: ", ")))"]
        var values: [(any DatabaseValueConvertible)?] = [filter.environmentID]
        values += filter.types.map { $0 as (any DatabaseValueConvertible)? }
        if let organizationID = filter.organizationID {
            conditions.append("organization_id = ?")
            values.append(organizationID)
        }
        if let start = filter.rangeStart {
            conditions.append("created_at >= ?")
            values.append(start)
        }
        if let end = filter.rangeEnd {
            conditions.append("created_at < ?")
            values.append(end)
        }
        if let cursorID = filter.cursorID {
            let arguments = try StatementArguments.checked([filter.environmentID, cursorID])
            let sequence = try await read { db in
                try Int64.fetchOne(
                    db,
                    sql: "SELECT sequence FROM events WHERE environment_id = ? AND id = ?",
                    arguments: arguments
                )
            }
            guard let sequence else { return nil }
            conditions.append("sequence \(filter.ascending ? ">" : "<") ?")
            values.append(sequence)
        }
        values.append(filter.limit + 1)
        let sql = """
            SELECT \(Self.eventColumns) FROM events WHERE \(conditions.joined(separator: " AND "))
            ORDER BY sequence \(filter.ascending ? "ASC" : "DESC") LIMIT ?
            """
        let arguments = try StatementArguments.checked(values)
        return try await read { db in try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.storedEvent) }
    }

    func eventEnvironments() async throws -> [String] {
        try await read { db in
            try String.fetchAll(db, sql: "SELECT environment_id FROM event_chain_heads ORDER BY environment_id")
        }
    }

    func eventChainHead(environmentID: String) async throws -> EventChainHead? {
        let arguments = try StatementArguments.checked([environmentID])
        return try await read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT sequence, hash FROM event_chain_heads WHERE environment_id = ?",
                arguments: arguments
            ).map { EventChainHead(sequence: $0["sequence"], hash: $0["hash"]) }
        }
    }

    func eventChain(environmentID: String, after sequence: Int64, limit: Int) async throws -> [StoredVaultEvent] {
        let arguments = try StatementArguments.checked([environmentID, sequence, limit])
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.eventColumns) FROM events WHERE environment_id = ? AND sequence > ?
                    ORDER BY sequence LIMIT ?
                    """,
                arguments: arguments
            ).map(Self.storedEvent)
        }
    }

    func purgeEvents(createdBefore cutoff: Int64) async throws -> Int {
        let arguments = try StatementArguments.checked([cutoff])
        return try await write { db in
            try db.execute(sql: "DELETE FROM events WHERE created_at < ?", arguments: arguments)
            return db.changesCount
        }
    }

    static let eventColumns =
        "environment_id, sequence, id, type, data, created_at, organization_id, prev_hash, hash"

    static func storedEvent(_ row: Row) -> StoredVaultEvent {
        StoredVaultEvent(
            event: NewVaultEvent(
                id: row["id"],
                environmentID: row["environment_id"],
                type: row["type"],
                dataJSON: row["data"],
                createdAt: row["created_at"],
                organizationID: row["organization_id"]
            ),
            sequence: row["sequence"],
            prevHash: row["prev_hash"],
            hash: row["hash"]
        )
    }
}
