import EnvelopeCrypto
import Foundation
import Testing
import VaultAPI

@testable import LocalVault

/// `vault admin rewrap` over more object versions than one batch: each batch commits on its own
/// and is reported, and a run stopped after a batch is finished by the next run, which re-wraps
/// only what is left.
@Suite(.timeLimit(.minutes(2)))
struct RewrapBatchTests {
    let context = KeyContext(["organization_id": "org_1"])
    let env = LocalVault.defaultEnvironmentID

    /// Seven object versions (five objects, two of them updated once) under KEK version 1, then
    /// the pair rotated to version 2; the values by object id and version number.
    func storeSevenVersionsThenRotate(_ vault: LocalVault) async throws -> [String: [Int: String]] {
        var values: [String: [Int: String]] = [:]
        for index in 0..<5 {
            let created = try await vault.createObject(
                name: "secret/\(index)",
                value: "value \(index)",
                context: context,
                caller: .alice
            )
            values[created.id] = [1: "value \(index)"]
            if index < 2 {
                _ = try await vault.updateObject(
                    id: created.id,
                    value: "value \(index)b",
                    versionCheck: nil,
                    caller: .alice
                )
                values[created.id]?[2] = "value \(index)b"
            }
        }
        _ = try await vault.rotateKEKs(context: context, environmentID: env)
        return values
    }

    /// The KEK version each stored object version's data key is wrapped under, by version id.
    func kekVersions(_ fixture: TemporaryVault) async throws -> [String: Int] {
        var versions: [String: Int] = [:]
        for (id, sealed) in try await fixture.sealedValues() {
            let keys = try #require(KeysBlob(parsing: try EnvelopeBlob(parsing: sealed, layout: .a).encryptedKeys))
            let kekID = try #require(keys.entries.first { $0.kind == .vault }?.kekID)
            versions[id] = try await fixture.kekVersion(id: kekID)
        }
        return versions
    }

    /// Every version of every object reads its value.
    func expectEveryVersionReads(_ values: [String: [Int: String]], in vault: LocalVault) async throws {
        for (id, versions) in values {
            for (number, value) in versions {
                #expect(try await vault.readObject(id: id, version: .number(number), environmentID: env).value == value)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func rewrapCommitsAndReportsEachBatch(backend: TestBackend) async throws {
        let fixture = try await TemporaryVault(backend)
        let values = try await storeSevenVersionsThenRotate(fixture.vault)
        #expect(Set(try await kekVersions(fixture).values) == [1])
        var reports: [RewrapProgress] = []

        let totals = try await fixture.vault.rewrapStoredObjects(batchSize: 3) { reports.append($0) }

        #expect(
            reports == [
                RewrapProgress(scanned: 3, rewrapped: 3, skipped: 0),
                RewrapProgress(scanned: 6, rewrapped: 6, skipped: 0),
                RewrapProgress(scanned: 7, rewrapped: 7, skipped: 0),
            ]
        )
        #expect(totals == reports.last)
        let versions = try await kekVersions(fixture)
        #expect(versions.count == 7 && Set(versions.values) == [2])
        try await expectEveryVersionReads(values, in: fixture.vault)
    }

    struct Stopped: Error {}

    @Test(arguments: TestBackend.allCases)
    func rewrapStoppedAfterFirstBatchIsFinishedByNextRun(backend: TestBackend) async throws {
        let fixture = try await TemporaryVault(backend)
        let values = try await storeSevenVersionsThenRotate(fixture.vault)
        let sealedBefore = try await fixture.sealedValues()
        let etagsBefore = try await fixture.etags()
        var firstRun: [RewrapProgress] = []

        await #expect(throws: Stopped.self) {
            _ = try await fixture.vault.rewrapStoredObjects(batchSize: 3) { progress in
                firstRun.append(progress)
                throw Stopped()
            }
        }

        #expect(firstRun == [RewrapProgress(scanned: 3, rewrapped: 3, skipped: 0)])
        // The first batch (the three smallest version ids) committed; the rest is untouched.
        let halfway = try await kekVersions(fixture)
        let firstBatch = Set(halfway.keys.sorted().prefix(3))
        #expect(Set(halfway.filter { $0.value == 2 }.keys) == firstBatch)
        #expect(halfway.filter { $0.value == 1 }.count == 4)
        let sealedHalfway = try await fixture.sealedValues()
        for (id, sealed) in sealedBefore where !firstBatch.contains(id) {
            #expect(sealedHalfway[id] == sealed, "a version after the first batch is untouched")
        }
        try await expectEveryVersionReads(values, in: fixture.vault)
        let refused = try await fixture.vault.retireKEKVersions(
            contextKey: "organization_id",
            contextValue: "org_1",
            below: 2,
            environmentID: env
        )
        #expect(refused == .inUse(objectVersions: 4))
        var secondRun: [RewrapProgress] = []

        let totals = try await fixture.vault.rewrapStoredObjects(batchSize: 3) { secondRun.append($0) }

        #expect(
            secondRun == [
                RewrapProgress(scanned: 3, rewrapped: 0, skipped: 3),
                RewrapProgress(scanned: 6, rewrapped: 3, skipped: 3),
                RewrapProgress(scanned: 7, rewrapped: 4, skipped: 3),
            ]
        )
        #expect(totals == secondRun.last)
        let sealedAfter = try await fixture.sealedValues()
        for id in firstBatch {
            #expect(sealedAfter[id] == sealedHalfway[id], "the second run left the first batch as it was")
        }
        #expect(Set(try await kekVersions(fixture).values) == [2])
        #expect(try await fixture.etags() == etagsBefore)
        try await expectEveryVersionReads(values, in: fixture.vault)
        let retired = try await fixture.vault.retireKEKVersions(
            contextKey: "organization_id",
            contextValue: "org_1",
            below: 2,
            environmentID: env
        )
        #expect(retired == .retired(count: 1))
        try await expectEveryVersionReads(values, in: fixture.vault)
    }
}
