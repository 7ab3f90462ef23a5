import Foundation
import Testing

@testable import LocalVault
@testable import LocalVaultPostgres

/// Reads, lists and the rules on text, on one instance.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled), .timeLimit(.minutes(5)))
struct PostgresStorageObjectTests {
    @Test func listPagesByCreationWithACursorResolvedInTheQuery() async throws {
        try await PostgresTestDatabase.with { database in
            let storage = try await PostgresStorage(url: database.url)
            var ids: [String] = []
            for index in 0..<5 {
                let object = StorageFixtures.object(named: "item-\(index)")
                _ = try await storage.createObject(
                    object,
                    firstVersion: StorageFixtures.version(at: 1_000 + Int64(index))
                )
                ids.append(object.id)
            }
            let first = try #require(try await storage.listObjects(StorageFixtures.listFilter(limit: 2)))
            #expect(first.map(\.id) == Array(ids[0...2]))  // limit + 1: one more tells that more follow
            let second = try #require(
                try await storage.listObjects(StorageFixtures.listFilter(cursorID: ids[1], limit: 2))
            )
            #expect(second.map(\.id) == Array(ids[2...4]))
            let backwards = try #require(
                try await storage.listObjects(StorageFixtures.listFilter(cursorID: ids[3], ascending: false, limit: 10))
            )
            #expect(backwards.map(\.id) == Array(ids[0...2].reversed()))
            let end = try #require(try await storage.listObjects(StorageFixtures.listFilter(cursorID: ids[4])))
            #expect(end.isEmpty)
            #expect(try await storage.listObjects(StorageFixtures.listFilter(cursorID: StorageFixtures.id())) == nil)
        }
    }

    @Test func searchMatchesASCIILettersWithoutCaseAndNothingElse() async throws {
        try await PostgresTestDatabase.with { database in
            let storage = try await PostgresStorage(url: database.url)
            for name in ["Alpha-one", "alpha-two", "beta", "Ärger", "ärger", "100%_sure"] {
                _ = try await storage.createObject(
                    StorageFixtures.object(named: name),
                    firstVersion: StorageFixtures.version()
                )
            }
            func names(_ search: String) async throws -> Set<String> {
                Set(try #require(try await storage.listObjects(StorageFixtures.listFilter(search: search))).map(\.name))
            }
            #expect(try await names("ALPHA") == ["Alpha-one", "alpha-two"])
            #expect(try await names("Ä") == ["Ärger"])
            #expect(try await names("äRGER") == ["ärger"])
            #expect(try await names("%_") == ["100%_sure"])
            #expect(try await names("").count == 6)
        }
    }

    @Test func textHoldingNULIsRefusedBeforeAnyQuery() async throws {
        try await PostgresTestDatabase.with { database in
            let storage = try await PostgresStorage(url: database.url)
            await #expect(throws: LocalVaultError.textHoldsNUL) {
                try await storage.createObject(
                    StorageFixtures.object(named: "cut\u{0}here"),
                    firstVersion: StorageFixtures.version()
                )
            }
            await #expect(throws: LocalVaultError.textHoldsNUL) {
                try await storage.object(
                    .name("cut\u{0}here"),
                    environmentID: StorageFixtures.environment,
                    contextJSON: nil
                )
            }
            await #expect(throws: LocalVaultError.textHoldsNUL) {
                try await storage.claimIdempotencyKey(
                    scope: "s",
                    key: "k\u{0}",
                    requestHash: "h",
                    now: 1,
                    leaseExpiredBefore: 0
                )
            }
        }
    }

    @Test func readsTheCurrentVersionOrANamedOne() async throws {
        try await PostgresTestDatabase.with { database in
            let storage = try await PostgresStorage(url: database.url)
            let object = StorageFixtures.object(named: "versioned")
            let first = StorageFixtures.version(at: 1_000)
            _ = try await storage.createObject(object, firstVersion: first)
            let second = StorageFixtures.version(at: 2_000)
            let updated = try await storage.updateObject(
                id: object.id,
                environmentID: StorageFixtures.environment,
                version: second,
                versionCheck: first.id,
                expectedVersion: 1
            )
            #expect(updated == .updated)
            let current = try #require(
                try await storage.object(
                    .name("versioned"),
                    environmentID: StorageFixtures.environment,
                    contextJSON: nil
                )
            )
            #expect(current.versionID == second.id)
            #expect(current.versionNumber == 2)
            #expect(current.updatedAt == 2_000)
            let old = try #require(
                try await storage.object(
                    .version(objectID: object.id, .number(1)),
                    environmentID: StorageFixtures.environment,
                    contextJSON: object.contextJSON
                )
            )
            #expect(old.versionID == first.id)
            #expect(old.sealedValue == first.sealedValue)
            let otherContext = try await storage.object(
                .id(object.id),
                environmentID: StorageFixtures.environment,
                contextJSON: #"{"tenant":"b"}"#
            )
            #expect(otherContext == nil)
            let otherEnvironment = try await storage.updateObject(
                id: object.id,
                environmentID: "environment_other",
                version: StorageFixtures.version(),
                versionCheck: nil,
                expectedVersion: nil
            )
            #expect(otherEnvironment == .notFound)
            let stale = try await storage.deleteObject(
                id: object.id,
                environmentID: StorageFixtures.environment,
                contextJSON: nil,
                versionCheck: first.id,
                deletedAt: 3_000,
                purgeAt: nil
            )
            #expect(stale == .conflict)
            let purged = try await storage.deleteObject(
                id: object.id,
                environmentID: StorageFixtures.environment,
                contextJSON: nil,
                versionCheck: second.id,
                deletedAt: 3_000,
                purgeAt: nil
            )
            #expect(purged == .deleted(name: "versioned", purged: true))
            #expect(try await storage.versions(ofObject: object.id).isEmpty)
        }
    }
}
