import Foundation
import Testing

@testable import LocalVault
@testable import LocalVaultPostgres

/// Two `PostgresStorage` instances on one database, as two `vault serve` processes would be: the
/// rules that must hold across processes hold.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled), .timeLimit(.minutes(5)))
struct PostgresStorageConcurrencyTests {
    @Test func migrationsRunOnceWhenTwoInstancesStartTogether() async throws {
        try await PostgresTestDatabase.with { database in
            async let first = PostgresStorage(url: database.url)
            async let second = PostgresStorage(url: database.url)
            _ = try await (first, second)
            let versions = try await database.rows("SELECT version FROM schema_migrations")
            #expect(versions.count == PostgresSchema.migrations.count)
        }
    }

    @Test func concurrentFirstKEKOfAPairEndsWithOneRow() async throws {
        try await PostgresTestDatabase.with { database in
            let storages = try await [PostgresStorage(url: database.url), PostgresStorage(url: database.url)]
            let name = KEKName(environmentID: StorageFixtures.environment, contextKey: "tenant", contextValue: "a")
            let ids = try await withThrowingTaskGroup(of: String?.self) { group in
                for index in 0..<12 {
                    group.addTask { try await storages[index % 2].insertFirstKEK(StorageFixtures.kek(name))?.id }
                }
                return try await group.reduce(into: Set<String?>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
            #expect(ids.first! != nil)
            let rows = try await database.rows("SELECT id FROM keks")
            #expect(rows.count == 1)
        }
    }

    @Test func concurrentNextKEKVersionsAreConsecutive() async throws {
        try await PostgresTestDatabase.with { database in
            let storages = try await [PostgresStorage(url: database.url), PostgresStorage(url: database.url)]
            let name = KEKName(environmentID: StorageFixtures.environment, contextKey: "tenant", contextValue: "b")
            let versions = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await storages[index % 2].insertNextKEKVersion(
                            of: name,
                            id: StorageFixtures.id(),
                            createdAt: 1_000,
                            wrap: { _ in [1, 2, 3] }
                        )
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(versions.sorted() == Array(1...8))
            #expect(try await storages[0].newestKEKVersion(of: name) == 8)
        }
    }

    @Test func ofTwentyFourUpdatesWithTheSameVersionCheckExactlyOneWins() async throws {
        try await PostgresTestDatabase.with { database in
            let storages = try await [PostgresStorage(url: database.url), PostgresStorage(url: database.url)]
            let object = StorageFixtures.object(named: "contended")
            let first = StorageFixtures.version()
            #expect(try await storages[0].createObject(object, firstVersion: first) == .created(purgedHolder: false))
            let outcomes = try await withThrowingTaskGroup(of: UpdateObjectOutcome.self) { group in
                for index in 0..<24 {
                    group.addTask {
                        try await storages[index % 2].updateObject(
                            id: object.id,
                            environmentID: StorageFixtures.environment,
                            version: StorageFixtures.version(at: 2_000),
                            versionCheck: first.id,
                            expectedVersion: nil
                        )
                    }
                }
                return try await group.reduce(into: [UpdateObjectOutcome]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .updated }.count == 1)
            #expect(outcomes.filter { $0 == .conflict }.count == 23)
            let versions = try await storages[1].versions(ofObject: object.id)
            #expect(versions.map(\.number) == [2, 1])
        }
    }

    @Test func ofConcurrentUpdatesWithTheSameExpectedVersionExactlyOneWins() async throws {
        try await PostgresTestDatabase.with { database in
            let storages = try await [PostgresStorage(url: database.url), PostgresStorage(url: database.url)]
            let object = StorageFixtures.object(named: "numbered")
            _ = try await storages[0].createObject(object, firstVersion: StorageFixtures.version())
            let outcomes = try await withThrowingTaskGroup(of: UpdateObjectOutcome.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        try await storages[index % 2].updateObject(
                            id: object.id,
                            environmentID: StorageFixtures.environment,
                            version: StorageFixtures.version(at: 2_000),
                            versionCheck: nil,
                            expectedVersion: 1
                        )
                    }
                }
                return try await group.reduce(into: [UpdateObjectOutcome]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .updated }.count == 1)
            // Without a check, every update wins in turn, numbered one after the other.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        let outcome = try await storages[index % 2].updateObject(
                            id: object.id,
                            environmentID: StorageFixtures.environment,
                            version: StorageFixtures.version(at: 3_000),
                            versionCheck: nil,
                            expectedVersion: nil
                        )
                        #expect(outcome == .updated)
                    }
                }
                try await group.waitForAll()
            }
            let numbers = try await storages[0].versions(ofObject: object.id).map(\.number)
            #expect(numbers == Array((1...8).reversed()))
        }
    }

    @Test func createsRacingOnOneNameCreateOne() async throws {
        try await PostgresTestDatabase.with { database in
            let storages = try await [PostgresStorage(url: database.url), PostgresStorage(url: database.url)]
            let outcomes = try await withThrowingTaskGroup(of: CreateObjectOutcome.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        try await storages[index % 2].createObject(
                            StorageFixtures.object(named: "raced"),
                            firstVersion: StorageFixtures.version()
                        )
                    }
                }
                return try await group.reduce(into: [CreateObjectOutcome]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .created(purgedHolder: false) }.count == 1)
            #expect(outcomes.filter { $0 == .nameInUse }.count == 11)
        }
    }

    @Test func aDeletedObjectHoldsItsNameUntilItsPurgeIsDue() async throws {
        try await PostgresTestDatabase.with { database in
            let storage = try await PostgresStorage(url: database.url)
            let object = StorageFixtures.object(named: "held")
            _ = try await storage.createObject(object, firstVersion: StorageFixtures.version())
            let deleted = try await storage.deleteObject(
                id: object.id,
                environmentID: StorageFixtures.environment,
                contextJSON: nil,
                versionCheck: nil,
                deletedAt: 1_500,
                purgeAt: 5_000
            )
            #expect(deleted == .deleted(name: "held", purged: false))
            let early = try await storage.createObject(
                StorageFixtures.object(named: "held"),
                firstVersion: StorageFixtures.version(at: 4_999)
            )
            #expect(early == .nameHeld(purgeAt: 5_000))
            let due = try await storage.createObject(
                StorageFixtures.object(named: "held"),
                firstVersion: StorageFixtures.version(at: 5_000)
            )
            #expect(due == .created(purgedHolder: true))
            #expect(try await storage.versions(ofObject: object.id).isEmpty)
        }
    }

    @Test func oneIdempotencyClaimWinsAcrossInstances() async throws {
        try await PostgresTestDatabase.with { database in
            let storages = try await [PostgresStorage(url: database.url), PostgresStorage(url: database.url)]
            let claims = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        try await storages[index % 2].claimIdempotencyKey(
                            scope: "scope",
                            key: "key",
                            requestHash: "hash",
                            now: 10_000,
                            leaseExpiredBefore: 9_000
                        ) == nil
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(claims.filter { $0 }.count == 1)
            // An unfinished claim whose lease expired is taken over; a completed one is replayed.
            let takenOver = try await storages[1].claimIdempotencyKey(
                scope: "scope",
                key: "key",
                requestHash: "hash2",
                now: 20_000,
                leaseExpiredBefore: 15_000
            )
            #expect(takenOver == nil)
            try await storages[0].completeIdempotencyKey(scope: "scope", key: "key", status: 201, sealedBody: [9])
            let replay = try await storages[0].claimIdempotencyKey(
                scope: "scope",
                key: "key",
                requestHash: "hash3",
                now: 90_000,
                leaseExpiredBefore: 80_000
            )
            #expect(replay?.requestHash == "hash2")
            #expect(replay?.status == 201)
            #expect(replay?.sealedBody == [9])
        }
    }

    @Test func purgesFromTwoInstancesPurgeEachObjectOnce() async throws {
        try await PostgresTestDatabase.with { database in
            let storages = try await [PostgresStorage(url: database.url), PostgresStorage(url: database.url)]
            for index in 0..<20 {
                let object = StorageFixtures.object(named: "purged-\(index)")
                _ = try await storages[0].createObject(object, firstVersion: StorageFixtures.version())
                _ = try await storages[0].deleteObject(
                    id: object.id,
                    environmentID: StorageFixtures.environment,
                    contextJSON: nil,
                    versionCheck: nil,
                    deletedAt: 2_000,
                    purgeAt: 3_000
                )
            }
            #expect(try await storages[1].pendingPurges() == 20)
            let purged = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<6 {
                    group.addTask { try await storages[index % 2].purgeObjects(.due(now: 4_000)) }
                }
                return try await group.reduce(0, +)
            }
            #expect(purged == 20)
            #expect(try await storages[0].pendingPurges() == 0)
            #expect(try await database.rows("SELECT id FROM object_versions").isEmpty)
        }
    }
}
