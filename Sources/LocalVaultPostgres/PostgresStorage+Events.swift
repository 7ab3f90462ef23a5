import LocalVault
import PostgresNIO

/// Events: one hash chain per environment, whose head row every append locks (`FOR UPDATE`), so
/// that instances sharing the database append one after the other.
extension PostgresStorage {
    package func appendEvents(_ events: [NewVaultEvent]) async throws {
        guard !events.isEmpty else { return }
        try await inTransaction { connection in try await Self.append(events, connection) }
    }

    /// Chains and inserts `events` inside the caller's transaction, all rows in one statement: a
    /// round trip per event would cost a group commit more than its rows.
    static func append(_ events: [NewVaultEvent], _ connection: PostgresConnection) async throws {
        var heads: [String: EventChainHead] = [:]
        var rows: [StoredVaultEvent] = []
        rows.reserveCapacity(events.count)
        for event in events {
            let head: EventChainHead
            if let known = heads[event.environmentID] {
                head = known
            } else {
                head = try await lockedHead(of: event.environmentID, connection)
            }
            let row = EventChain.chained(event, after: head)
            rows.append(row)
            heads[event.environmentID] = EventChainHead(sequence: row.sequence, hash: row.hash)
        }
        // `organization_id` as a text and a presence flag: a text[] bound here holds no NULL.
        try await connection.run(
            """
            INSERT INTO events (environment_id, sequence, id, type, data, created_at, organization_id,
                                prev_hash, hash)
            SELECT environment_id, sequence, id, type, data, created_at,
                   CASE WHEN has_organization THEN organization_id END, prev_hash, hash
            FROM unnest(\(rows.map(\.event.environmentID))::text[], \(rows.map(\.sequence))::bigint[],
                        \(rows.map(\.event.id))::text[], \(rows.map(\.event.type))::text[],
                        \(rows.map(\.event.dataJSON))::text[], \(rows.map(\.event.createdAt))::bigint[],
                        \(rows.map { $0.event.organizationID != nil })::boolean[],
                        \(rows.map { $0.event.organizationID ?? "" })::text[],
                        \(rows.map(\.prevHash))::text[], \(rows.map(\.hash))::text[])
                 AS batch(environment_id, sequence, id, type, data, created_at, has_organization, organization_id,
                          prev_hash, hash)
            """
        )
        for (environmentID, head) in heads {
            try await connection.run(
                """
                UPDATE event_chain_heads SET sequence = \(head.sequence), hash = \(head.hash)
                WHERE environment_id = \(environmentID)
                """
            )
        }
    }

    /// The environment's head, its row created if missing and locked until the transaction ends.
    private static func lockedHead(
        of environmentID: String,
        _ connection: PostgresConnection
    ) async throws
        -> EventChainHead
    {
        try await connection.run(
            """
            INSERT INTO event_chain_heads (environment_id, sequence, hash)
            VALUES (\(environmentID), 0, \(EventChain.genesis)) ON CONFLICT DO NOTHING
            """
        )
        let row = try await connection.rows(
            "SELECT sequence, hash FROM event_chain_heads WHERE environment_id = \(environmentID) FOR UPDATE"
        )[0]
        let (sequence, hash) = try row.decode((Int64, String).self)
        return EventChainHead(sequence: sequence, hash: hash)
    }

    package func events(_ filter: EventFilter) async throws -> [StoredVaultEvent]? {
        guard !filter.types.isEmpty else { return [] }
        // Type names hold no comma (they are VaultEventType's).
        let types = filter.types.joined(separator: ",")
        let limit = filter.limit + 1
        return try await withConnection { connection -> [StoredVaultEvent]? in
            var cursor: Int64?
            if let cursorID = filter.cursorID {
                let found = try await connection.rows(
                    "SELECT sequence FROM events WHERE environment_id = \(filter.environmentID) AND id = \(cursorID)"
                )
                guard let row = found.first else { return nil }
                cursor = try row.decode(Int64.self)
            }
            // Constants only, never input: the page's direction.
            let (after, order) = filter.ascending ? (SQLText(">"), SQLText("ASC")) : (SQLText("<"), SQLText("DESC"))
            let rows = try await connection.rows(
                """
                \(Self.eventSelection)
                WHERE environment_id = \(filter.environmentID) AND type = ANY (string_to_array(\(types), ','))
                  AND (\(filter.organizationID)::text IS NULL OR organization_id = \(filter.organizationID))
                  AND (\(filter.rangeStart)::bigint IS NULL OR created_at >= \(filter.rangeStart))
                  AND (\(filter.rangeEnd)::bigint IS NULL OR created_at < \(filter.rangeEnd))
                  AND (\(cursor)::bigint IS NULL OR sequence \(after) \(cursor))
                ORDER BY sequence \(order) LIMIT \(limit)
                """
            )
            return try rows.map(Self.storedEvent(from:))
        }
    }

    package func eventEnvironments() async throws -> [String] {
        try await withConnection { connection in
            try await connection.rows("SELECT environment_id FROM event_chain_heads ORDER BY environment_id")
                .map { try $0.decode(String.self) }
        }
    }

    package func eventChainHead(environmentID: String) async throws -> EventChainHead? {
        try await withConnection { connection in
            try await connection.rows(
                "SELECT sequence, hash FROM event_chain_heads WHERE environment_id = \(environmentID)"
            ).first.map { row in
                let (sequence, hash) = try row.decode((Int64, String).self)
                return EventChainHead(sequence: sequence, hash: hash)
            }
        }
    }

    package func eventChain(
        environmentID: String,
        after sequence: Int64,
        limit: Int
    ) async throws -> [StoredVaultEvent] {
        try await withConnection { connection in
            try await connection.rows(
                """
                \(Self.eventSelection) WHERE environment_id = \(environmentID) AND sequence > \(sequence)
                ORDER BY sequence LIMIT \(limit)
                """
            ).map(Self.storedEvent(from:))
        }
    }

    package func purgeEvents(createdBefore cutoff: Int64) async throws -> Int {
        try await withConnection { connection in
            try await connection.rows("DELETE FROM events WHERE created_at < \(cutoff) RETURNING sequence").count
        }
    }

    private static let eventSelection = SQLText(
        "SELECT environment_id, sequence, id, type, data, created_at, organization_id, prev_hash, hash FROM events"
    )

    static func storedEvent(from row: PostgresRow) throws -> StoredVaultEvent {
        let (environmentID, sequence, id, type, data, createdAt, organizationID, prevHash, hash) = try row.decode(
            (String, Int64, String, String, String, Int64, String?, String, String).self
        )
        return StoredVaultEvent(
            event: NewVaultEvent(
                id: id,
                environmentID: environmentID,
                type: type,
                dataJSON: data,
                createdAt: createdAt,
                organizationID: organizationID
            ),
            sequence: sequence,
            prevHash: prevHash,
            hash: hash
        )
    }
}
