import LocalVault
import PostgresNIO

/// Events: one hash chain per environment, whose head row every append moves, so that instances
/// sharing the database append one after the other.
extension PostgresStorage {
    /// A group commit of read events. Usually one statement, after the head this instance last
    /// committed (``appendAfterKnownHead(_:)``); otherwise, or when another instance has moved the
    /// head since, a transaction that locks the head (`FOR UPDATE`) and chains after it.
    package func appendEvents(_ events: [NewVaultEvent]) async throws {
        guard !events.isEmpty else { return }
        if try await appendAfterKnownHead(events) { return }
        let heads = try await inTransaction { connection in try await Self.append(events, connection) }
        knownEventHeads.withLock { $0.merge(heads) { $1 } }
    }

    /// One round trip instead of five (begin, lock, insert and move, commit) for the usual group
    /// commit: events of one environment whose head this instance committed last, appended by one
    /// statement (its own transaction) that moves the head only if it is still that one.
    /// - Returns: false (nothing written) when the head is not known here or has moved.
    private func appendAfterKnownHead(_ events: [NewVaultEvent]) async throws -> Bool {
        let environmentID = events[0].environmentID
        guard events.allSatisfy({ $0.environmentID == environmentID }),
            let known = knownEventHeads.withLock({ $0[environmentID] })
        else { return false }
        let rows = Self.chained(events, after: known)
        let moved = try await withConnection { connection in
            try await Self.insert(rows, movingHeadFrom: known, of: environmentID, connection)
        }
        knownEventHeads.withLock { $0[environmentID] = moved }
        return moved != nil
    }

    /// Chains and inserts `events` inside the caller's transaction, locking each environment's
    /// head first; one statement per environment however many rows.
    /// - Returns: the heads the rows leave, by environment (in force once the transaction commits).
    @discardableResult
    static func append(
        _ events: [NewVaultEvent],
        _ connection: PostgresConnection
    ) async throws -> [String: EventChainHead] {
        // A batch rarely mixes environments; each keeps its events' order.
        var environments: [String] = []
        var byEnvironment: [String: [NewVaultEvent]] = [:]
        for event in events {
            if byEnvironment[event.environmentID] == nil { environments.append(event.environmentID) }
            byEnvironment[event.environmentID, default: []].append(event)
        }
        var heads: [String: EventChainHead] = [:]
        for environmentID in environments {
            let head = try await lockedHead(of: environmentID, connection)
            let rows = chained(byEnvironment[environmentID] ?? [], after: head)
            guard let moved = try await insert(rows, movingHeadFrom: head, of: environmentID, connection) else {
                throw LocalVaultError(.internalError, "the event chain head moved while it was locked")
            }
            heads[environmentID] = moved
        }
        return heads
    }

    /// `events` (of one environment) chained after `head`.
    private static func chained(_ events: [NewVaultEvent], after head: EventChainHead) -> [StoredVaultEvent] {
        var head = head
        return events.map { event in
            let row = EventChain.chained(event, after: head)
            head = EventChainHead(sequence: row.sequence, hash: row.hash)
            return row
        }
    }

    /// Moves the environment's head from `head` to the last of `rows` and inserts the rows, in one
    /// statement, if the head is still `head`. Another transaction moving it holds its row lock
    /// until it ends; the update then re-reads the row, finds another head, and nothing is written.
    /// - Returns: the new head, or nil when the head was not `head`.
    private static func insert(
        _ rows: [StoredVaultEvent],
        movingHeadFrom head: EventChainHead,
        of environmentID: String,
        _ connection: PostgresConnection
    ) async throws -> EventChainHead? {
        guard let last = rows.last else { return head }
        // `organization_id` as a text and a presence flag: a text[] bound here holds no NULL.
        let inserted = try await connection.rows(
            """
            WITH moved AS (
                UPDATE event_chain_heads SET sequence = \(last.sequence), hash = \(last.hash)
                WHERE environment_id = \(environmentID) AND sequence = \(head.sequence) AND hash = \(head.hash)
                RETURNING environment_id
            )
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
            WHERE EXISTS (SELECT 1 FROM moved)
            RETURNING sequence
            """
        ).count
        return inserted == rows.count ? EventChainHead(sequence: last.sequence, hash: last.hash) : nil
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
