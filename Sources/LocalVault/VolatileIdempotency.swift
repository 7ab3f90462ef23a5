import EnvelopeCrypto
import Foundation
import Synchronization

/// Idempotency records kept in memory, for requests that store nothing (the key endpoints): a
/// replay there only has to hand back the first answer, and losing the records on a restart
/// loses no data. Two durable SQLite writes per data-key request would cost more than the request.
final class VolatileIdempotency: Sendable {
    struct Record: Sendable {
        var requestHash: String
        var created: Date
        var status: Int?
        var sealedBody: [UInt8]?
    }

    /// The most records kept; past it, the oldest claim goes (expired ones are the oldest).
    static let capacity = 100_000

    private struct State {
        var records: [String: Record] = [:]
        /// Claims in the order they were made, oldest from `start` on, for eviction in O(1).
        /// An entry whose record was since released or taken over is skipped.
        var order: [(id: String, created: Date)] = []
        var start = 0
    }

    private let state = Mutex(State())
    private let capacityLimit: Int
    /// Seals the stored responses (a data-key response holds a key). It lives as long as the
    /// records, in this process only, so no blob needs to name it.
    private let recordKey: DataKey
    private static let noWrappedKey: [UInt8] = [0]

    init(capacity: Int = VolatileIdempotency.capacity) throws {
        self.capacityLimit = capacity
        self.recordKey = try DataKey.generate()
    }

    func seal(_ body: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        try EnvelopeBlob.seal(body, with: recordKey, encryptedKeys: Self.noWrappedKey, associatedData: associatedData)
            .bytes
    }

    func open(_ sealed: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        try EnvelopeBlob(parsing: sealed, layout: .a).open(with: recordKey, associatedData: associatedData)
    }

    /// Inserts a claim, or returns the record already there (taking over an expired one or one
    /// whose lease ran out).
    func claim(_ id: String, requestHash: String, now: Date, window: TimeInterval, lease: TimeInterval) -> Record? {
        state.withLock { state in
            if let existing = state.records[id] {
                let expired = now.timeIntervalSince(existing.created) > window
                let abandoned = existing.status == nil && now.timeIntervalSince(existing.created) > lease
                guard expired || abandoned else { return existing }
            } else {
                while state.records.count >= capacityLimit { Self.evictOldest(&state) }
            }
            state.records[id] = Record(requestHash: requestHash, created: now, status: nil, sealedBody: nil)
            state.order.append((id, now))
            // Released claims leave entries behind: drop them before the queue outgrows the records.
            if state.order.count - state.start > 2 * capacityLimit {
                state.order = state.order[state.start...].filter { state.records[$0.id]?.created == $0.created }
                state.start = 0
            }
            return nil
        }
    }

    func complete(_ id: String, status: Int, sealedBody: [UInt8]) {
        state.withLock { state in
            state.records[id]?.status = status
            state.records[id]?.sealedBody = sealedBody
        }
    }

    func release(_ id: String) {
        state.withLock { state in
            if state.records[id]?.status == nil { state.records[id] = nil }
        }
    }

    /// The number of records held (for tests).
    var count: Int { state.withLock { $0.records.count } }

    /// The length of the eviction queue (for tests).
    var queuedClaims: Int { state.withLock { $0.order.count - $0.start } }

    private static func evictOldest(_ state: inout State) {
        while state.start < state.order.count {
            let entry = state.order[state.start]
            state.start += 1
            if state.records[entry.id]?.created == entry.created {
                state.records[entry.id] = nil
                break
            }
        }
        // Drop the consumed half of the queue once it is the larger part.
        if state.start > state.order.count / 2 {
            state.order.removeFirst(state.start)
            state.start = 0
        }
    }
}
