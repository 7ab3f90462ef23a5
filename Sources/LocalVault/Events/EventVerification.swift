/// What `vault admin verify-events` found in one environment's chain.
public struct EventChainCheck: Sendable, Hashable {
    /// The first link that does not hold.
    public struct BrokenLink: Sendable, Hashable {
        /// The event where the chain breaks (the last intact one when events are missing at the end).
        public var eventID: String
        public var sequence: Int64
        /// Why, in words (never the event's data).
        public var reason: String
    }

    public var environmentID: String
    /// How many events were checked (those retained, up to the head read at the start).
    public var checked: Int
    /// The first and last sequence checked; nil without retained events.
    public var sequences: ClosedRange<Int64>?
    public var broken: BrokenLink?
}

extension LocalVault {
    /// Checks every environment's event chain, from its oldest retained event to the head read
    /// at the start (events appended meanwhile are left for the next check): each event's hash
    /// must match its content, follow the previous one's hash with the next sequence, and the
    /// last one must be the head.
    public func verifyEvents() async throws -> [EventChainCheck] {
        var checks: [EventChainCheck] = []
        for environmentID in try await storage.eventEnvironments() {
            checks.append(try await verifyEvents(environmentID: environmentID))
        }
        return checks
    }

    private func verifyEvents(environmentID: String) async throws -> EventChainCheck {
        let head = try await storage.eventChainHead(environmentID: environmentID) ?? .empty
        var check = EventChainCheck(environmentID: environmentID, checked: 0, sequences: nil, broken: nil)
        var previous: StoredVaultEvent?
        var first: Int64?
        var after: Int64 = 0
        pages: while true {
            let rows = try await storage.eventChain(environmentID: environmentID, after: after, limit: 1000)
            guard !rows.isEmpty else { break }
            for row in rows {
                guard row.sequence <= head.sequence else { break pages }
                if let reason = Self.brokenLink(row, after: previous) {
                    check.broken = .init(eventID: row.event.id, sequence: row.sequence, reason: reason)
                    return check
                }
                first = first ?? row.sequence
                check.checked += 1
                check.sequences = (first ?? row.sequence)...row.sequence
                previous = row
            }
            after = rows[rows.count - 1].sequence
        }
        if let previous, previous.sequence != head.sequence || previous.hash != head.hash {
            check.broken = .init(
                eventID: previous.event.id,
                sequence: previous.sequence,
                reason: "the chain ends here but its head is at sequence \(head.sequence): events after it are missing"
            )
        }
        return check
    }

    /// Why `row` does not follow `previous` (nil: the first retained row), nil when it does.
    private static func brokenLink(_ row: StoredVaultEvent, after previous: StoredVaultEvent?) -> String? {
        if let previous {
            guard row.sequence == previous.sequence + 1 else {
                return "events \(previous.sequence + 1) to \(row.sequence - 1) before it are missing"
            }
            guard row.prevHash == previous.hash else { return "its prev_hash is not the previous event's hash" }
        }
        guard EventChain.hash(row.event, sequence: row.sequence, prevHash: row.prevHash) == row.hash else {
            return "its hash does not match its content (altered)"
        }
        return nil
    }
}
