import EnvelopeCrypto
import Foundation
import Testing

@testable import LocalVault

@Suite("Volatile idempotency records")
struct VolatileIdempotencyTests {
    private let start = Date(timeIntervalSince1970: 1_800_000_000)
    private let window: TimeInterval = 24 * 3600
    private let lease: TimeInterval = 60

    private func claim(_ records: VolatileIdempotency, _ id: String, at seconds: TimeInterval = 0) -> Bool {
        records.claim(
            id,
            requestHash: "hash-\(id)",
            now: start.addingTimeInterval(seconds),
            window: window,
            lease: lease
        ) == nil
    }

    @Test("at capacity the oldest claim goes, one per new claim")
    func evictsOldestFirst() throws {
        let records = try VolatileIdempotency(capacity: 3)
        for (second, id) in ["a", "b", "c"].enumerated() {
            #expect(claim(records, id, at: TimeInterval(second)))
            records.complete(id, status: 200, sealedBody: [1])
        }
        #expect(claim(records, "d", at: 3))
        #expect(records.count == 3)
        // "a" was evicted, so it can be claimed afresh; "c" and "d" are still held.
        #expect(claim(records, "a", at: 4))
        #expect(!claim(records, "c", at: 5))
        #expect(!claim(records, "d", at: 5))
        #expect(records.count == 3)
    }

    @Test("a claim taken over after its lease is evicted by its new age, not its first")
    func takenOverClaimKeepsItsPlace() throws {
        let records = try VolatileIdempotency(capacity: 2)
        #expect(claim(records, "a", at: 0))
        #expect(claim(records, "b", at: 1))
        records.complete("b", status: 200, sealedBody: [1])
        // "a" never completed: after the lease another request takes it over, which makes it newest.
        #expect(claim(records, "a", at: lease + 10))
        #expect(records.count == 2)
        #expect(claim(records, "c", at: lease + 11))
        #expect(!claim(records, "a", at: lease + 12))  // still held: "b" went first
        #expect(claim(records, "b", at: lease + 12))
    }

    @Test("stored responses are sealed: they open only with the record's associated data")
    func storedResponsesAreSealed() throws {
        let records = try VolatileIdempotency()
        let body = Array(#"{"data_key":"c2VjcmV0IGtleSBieXRlcyAuLi4uLi4uLi4uLi4uLi4uLi4="}"#.utf8)
        let sealed = try records.seal(body, associatedData: Array("scope\0key-1".utf8))
        #expect(sealed.count > body.count)
        #expect(!sealed.indices.contains { sealed[$0...].starts(with: body.prefix(12)) })
        #expect(try records.open(sealed, associatedData: Array("scope\0key-1".utf8)) == body)
        #expect(throws: (any Error).self) { try records.open(sealed, associatedData: Array("scope\0key-2".utf8)) }
        let otherProcess = try VolatileIdempotency()
        #expect(throws: (any Error).self) { try otherProcess.open(sealed, associatedData: Array("scope\0key-1".utf8)) }
    }

    @Test("released claims do not make the eviction queue grow without bound")
    func releasedClaimsAreForgotten() throws {
        let records = try VolatileIdempotency(capacity: 4)
        for n in 0..<1_000 {
            #expect(claim(records, "id-\(n)", at: TimeInterval(n)))
            records.release("id-\(n)")
        }
        #expect(records.count == 0)
        #expect(records.queuedClaims <= 2 * 4 + 1)
    }
}
