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

    /// The most records kept; past it, expired ones go first, then the oldest.
    static let capacity = 100_000

    private let records = Mutex<[String: Record]>([:])

    /// Inserts a claim, or returns the record already there (taking over an expired one or one
    /// whose lease ran out).
    func claim(_ id: String, requestHash: String, now: Date, window: TimeInterval, lease: TimeInterval) -> Record? {
        records.withLock { records in
            if let existing = records[id] {
                let expired = now.timeIntervalSince(existing.created) > window
                let abandoned = existing.status == nil && now.timeIntervalSince(existing.created) > lease
                guard expired || abandoned else { return existing }
            }
            if records.count >= Self.capacity { Self.makeRoom(&records, now: now, window: window) }
            records[id] = Record(requestHash: requestHash, created: now, status: nil, sealedBody: nil)
            return nil
        }
    }

    func complete(_ id: String, status: Int, sealedBody: [UInt8]) {
        records.withLock { records in
            records[id]?.status = status
            records[id]?.sealedBody = sealedBody
        }
    }

    func release(_ id: String) {
        records.withLock { records in
            if records[id]?.status == nil { records[id] = nil }
        }
    }

    private static func makeRoom(_ records: inout [String: Record], now: Date, window: TimeInterval) {
        records = records.filter { now.timeIntervalSince($0.value.created) <= window }
        guard records.count >= capacity else { return }
        let oldest = records.sorted { $0.value.created < $1.value.created }.prefix(capacity / 10).map(\.key)
        for id in oldest { records[id] = nil }
    }
}
