import EnvelopeCrypto
import Foundation
import Testing

@testable import LocalVault
@testable import LocalVaultPostgres

/// The root-key rotation runs in one transaction; a failure anywhere in it changes nothing.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled), .timeLimit(.minutes(5)))
struct PostgresStorageRootKeyTests {
    struct Stop: Error {}

    @Test func aRotationStoppedBeforeCommitChangesNothingAndOneThatCommitsRecordsTheNewKey() async throws {
        try await PostgresTestDatabase.with { database in
            let storage = try await PostgresStorage(url: database.url)
            let oldKey = try DataKey.generate()
            let newKey = try DataKey.generate()
            let oldCheck = try RootKeyCheck.checkValue(for: oldKey)
            #expect(try await storage.recordRootKeyCheck(oldCheck) == oldCheck)
            // A stored response that does not open (altered), and a claim still running.
            _ = try await storage.claimIdempotencyKey(
                scope: "s",
                key: "done",
                requestHash: "h",
                now: 1,
                leaseExpiredBefore: 0
            )
            try await storage.completeIdempotencyKey(scope: "s", key: "done", status: 201, sealedBody: [1, 2, 3])
            _ = try await storage.claimIdempotencyKey(
                scope: "s",
                key: "running",
                requestHash: "h",
                now: 1,
                leaseExpiredBefore: 0
            )
            let rewrap = RootKeyRewrap(oldKey: oldKey, newKey: newKey)

            await #expect(throws: Stop.self) {
                try await storage.rotateRootKey(rewrap, newKeyLocation: "/keys/new", beforeCommit: { throw Stop() })
            }
            let unchanged = try await storage.rootKeyState()
            #expect(unchanged.checkValue == oldCheck)
            #expect(unchanged.rotatedKeyLocation == nil)
            #expect(try await database.rows("SELECT key FROM idempotency_keys").count == 2)

            let counts = try await storage.rotateRootKey(rewrap, newKeyLocation: "/keys/new", beforeCommit: {})
            #expect(counts.keks == 0)
            #expect(counts.resealedResponses == 0)
            #expect(counts.droppedResponses == 1)
            let rotated = try await storage.rootKeyState()
            #expect(RootKeyCheck.opens(try #require(rotated.checkValue), with: newKey))
            #expect(rotated.rotatedKeyLocation == "/keys/new")
            #expect(try await database.rows("SELECT key FROM idempotency_keys").count == 1)
        }
    }

    @Test func aKEKThatDoesNotOpenRefusesTheWholeRotation() async throws {
        try await PostgresTestDatabase.with { database in
            let storage = try await PostgresStorage(url: database.url)
            let name = KEKName(environmentID: StorageFixtures.environment, contextKey: "tenant", contextValue: "a")
            let kek = try #require(try await storage.insertFirstKEK(StorageFixtures.kek(name)))
            let rewrap = RootKeyRewrap(oldKey: try DataKey.generate(), newKey: try DataKey.generate())
            await #expect(throws: RootKeyRewrap.doesNotOpen) {
                try await storage.rotateRootKey(rewrap, newKeyLocation: "/keys/new", beforeCommit: {})
            }
            let state = try await storage.rootKeyState()
            #expect(state.checkValue == nil)
            #expect(state.holdsData)
            #expect(state.sampleKEK?.wrappedKey == kek.wrappedKey)
        }
    }

    /// Connections the server ends (an administrator, a restart) are `unavailable`, never
    /// `failed`, and the pool reconnects by itself.
    @Test func connectionsEndedByTheServerAreUnavailableAndThePoolRecovers() async throws {
        try await PostgresTestDatabase.with { database in
            let storage = try await PostgresStorage(url: database.url)
            _ = try await storage.pendingPurges()
            _ = try await database.rows(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = '\(database.name)' AND pid <> pg_backend_pid()
                """
            )
            do {
                _ = try await storage.pendingPurges()
            } catch let error as StorageError {
                guard case .unavailable = error else {
                    Issue.record("a connection ended by the server is \(error)")
                    return
                }
            }
            var recovered = false
            for _ in 0..<20 where !recovered {
                recovered = (try? await storage.pendingPurges()) == 0
                if !recovered { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(recovered)
        }
    }
}
