import EnvelopeCrypto
import Foundation
import GRDB
import Testing
import VaultAPI

@testable import LocalVault

/// KEK versions: rotation, rekey and rewrap to the newest version, retirement, and their
/// interplay with root-key rotation and concurrent rotations.
@Suite(.timeLimit(.minutes(2)))
struct KEKRotationTests {
    let context = KeyContext(["organization_id": "org_1"])

    /// The KEK ids of a keys blob's Vault-managed entries.
    func kekIDs(_ encryptedKeys: [UInt8]) throws -> [String] {
        try #require(KeysBlob(parsing: encryptedKeys)).entries.filter { $0.kind == .vault }.map(\.kekID)
    }

    @Test(arguments: TestBackend.allCases)
    func blobSealedBeforeRotationDecryptsAfterRotationRekeyAndRewrap(backend: TestBackend) async throws {
        let fixture = try await TemporaryVault(backend)
        let vault = fixture.vault
        let env = LocalVault.defaultEnvironmentID
        let before = try await vault.createDataKey(context: context, environmentID: env)
        let object = try await vault.createObject(name: "db", value: "hunter2", context: context, caller: .alice)
        let oldID = try #require(try kekIDs(before.encryptedKeys).first)
        #expect(try await fixture.kekVersion(id: oldID) == 1)

        let rotations = try await vault.rotateKEKs(context: context, environmentID: env)

        #expect(rotations == [KEKRotation(contextKey: "organization_id", contextValue: "org_1", version: 2)])
        let after = try await vault.createDataKey(context: context, environmentID: env)
        let newID = try #require(try kekIDs(after.encryptedKeys).first)
        #expect(newID != oldID)
        #expect(try await fixture.kekVersion(id: newID) == 2)
        #expect(
            try await vault.decryptDataKey(encryptedKeys: before.encryptedKeys, environmentID: env).key == before.key
        )
        let rekeyed = try await vault.rekey(encryptedKeys: before.encryptedKeys, context: context, environmentID: env)
        #expect(try kekIDs(rekeyed.encryptedKeys) == [newID])
        #expect(rekeyed.key == before.key)
        #expect(try await vault.readObject(id: object.id, environmentID: env).value == "hunter2")

        let sealedBefore = try await fixture.sealedValues()
        let etagBefore = try await fixture.etags()
        let first = try await vault.rewrapStoredObjects(batchSize: 1)
        #expect(first.rewrapped == 1)
        let sealedAfter = try await fixture.sealedValues()
        for (id, old) in sealedBefore {
            let new = try #require(sealedAfter[id])
            let oldBlob = try EnvelopeBlob(parsing: old, layout: .a)
            let newBlob = try EnvelopeBlob(parsing: new, layout: .a)
            #expect(old.prefix(28) == new.prefix(28), "IV and tag unchanged")
            #expect(old.suffix(7) == new.suffix(7), "ciphertext (of the 7-byte value) unchanged")
            #expect(try kekIDs(newBlob.encryptedKeys) == [newID])
            #expect(try kekIDs(oldBlob.encryptedKeys) == [oldID])
        }
        #expect(try await vault.readObject(id: object.id, environmentID: env).value == "hunter2")
        #expect(try await fixture.etags() == etagBefore)
        let second = try await vault.rewrapStoredObjects()
        #expect(second.rewrapped == 0 && second.skipped == 1)
        #expect(try await fixture.sealedValues() == sealedAfter)
    }

    @Test(arguments: TestBackend.allCases)
    func retireRefusesWhileStoredObjectsUseVersionAndRefusesDecryptsAfter(backend: TestBackend) async throws {
        let fixture = try await TemporaryVault(backend)
        let vault = fixture.vault
        let env = LocalVault.defaultEnvironmentID
        let clientBlob = try await vault.createDataKey(context: context, environmentID: env)
        let object = try await vault.createObject(name: "db", value: "hunter2", context: context, caller: .alice)
        _ = try await vault.rotateKEKs(context: context, environmentID: env)

        let refused = try await vault.retireKEKVersions(
            contextKey: "organization_id",
            contextValue: "org_1",
            below: 2,
            environmentID: env
        )
        #expect(refused == .inUse(objectVersions: 1))
        #expect(
            try await vault.decryptDataKey(encryptedKeys: clientBlob.encryptedKeys, environmentID: env).key
                == clientBlob.key
        )
        await #expect(throws: LocalVaultError.self) {
            try await vault.retireKEKVersions(
                contextKey: "organization_id",
                contextValue: "org_1",
                below: 3,
                environmentID: env
            )
        }

        _ = try await vault.rewrapStoredObjects()
        let retired = try await vault.retireKEKVersions(
            contextKey: "organization_id",
            contextValue: "org_1",
            below: 2,
            environmentID: env
        )

        #expect(retired == .retired(count: 1))
        let error = await #expect(throws: LocalVaultError.self) {
            try await vault.decryptDataKey(encryptedKeys: clientBlob.encryptedKeys, environmentID: env)
        }
        #expect(error == LocalVaultError.foreignKeys)
        #expect(try await vault.readObject(id: object.id, environmentID: env).value == "hunter2")
        try await fixture.reopen()
        await #expect(throws: LocalVaultError.self) {
            try await fixture.vault.decryptDataKey(encryptedKeys: clientBlob.encryptedKeys, environmentID: env)
        }
        #expect(try await fixture.vault.readObject(id: object.id, environmentID: env).value == "hunter2")
        let fresh = try await fixture.vault.createDataKey(context: context, environmentID: env)
        #expect(try await fixture.kekVersion(id: try #require(try kekIDs(fresh.encryptedKeys).first)) == 2)
    }

    @Test(arguments: TestBackend.allCases)
    func rootKeyRotationAfterKEKRotationOpensEveryVersion(backend: TestBackend) async throws {
        // No background purge: the rotation below needs the store to itself once the vault is closed.
        let fixture = try await TemporaryVault(backend, purgesInBackground: false)
        let env = LocalVault.defaultEnvironmentID
        let v1 = try await fixture.vault.createDataKey(context: context, environmentID: env)
        _ = try await fixture.vault.rotateKEKs(context: context, environmentID: env)
        let v2 = try await fixture.vault.createDataKey(context: context, environmentID: env)

        let report = try await fixture.rotateRootKey()
        #expect(report.rewrappedKEKs == 2)

        let reopened = fixture.vault
        #expect(try await reopened.decryptDataKey(encryptedKeys: v1.encryptedKeys, environmentID: env).key == v1.key)
        #expect(try await reopened.decryptDataKey(encryptedKeys: v2.encryptedKeys, environmentID: env).key == v2.key)
        let v3 = try await reopened.createDataKey(context: context, environmentID: env)
        #expect(try kekIDs(v3.encryptedKeys) == (try kekIDs(v2.encryptedKeys)))
    }

    @Test(arguments: TestBackend.allCases)
    func concurrentRotationsEndWithConsecutiveVersions(backend: TestBackend) async throws {
        let fixture = try await TemporaryVault(backend)
        let vaults = [fixture.vault, try await fixture.openAnother()]
        let env = LocalVault.defaultEnvironmentID
        _ = try await fixture.vault.createDataKey(context: context, environmentID: env)
        let context = self.context
        let versions = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<12 {
                group.addTask {
                    try await vaults[index % 2].rotateKEKs(context: context, environmentID: env)[0].version
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(versions.sorted() == Array(2...13))
        #expect(try await fixture.kekVersions() == Array(1...13))
    }

    @Test func exclusiveOpenIsRefusedWhileAnotherVaultIsOpen() async throws {
        let fixture = try await TemporaryVault(.sqlite)
        let error = #expect(throws: LocalVaultError.self) {
            try LocalVault.openExclusively(
                configuration: LocalVaultConfiguration(
                    dataDirectory: fixture.directory,
                    rootKey: .file(fixture.directory + "/root.key")
                )
            )
        }
        #expect(error?.message.contains("open in another process") == true)
    }

    @Test(arguments: TestBackend.allCases)
    func maxAgeRotatesOnlyPairsWhoseNewestVersionIsOlder(backend: TestBackend) async throws {
        let fixture = try await TemporaryVault(backend)
        let vault = fixture.vault
        let env = LocalVault.defaultEnvironmentID
        _ = try await vault.createDataKey(context: context, environmentID: env)
        _ = try await vault.createDataKey(context: KeyContext(["organization_id": "org_2"]), environmentID: env)
        #expect(try await vault.rotateKEKs(olderThan: .seconds(3_600)).isEmpty)

        let later = Date().addingTimeInterval(7_200)
        let rotated = try await vault.rotateKEKs(olderThan: .seconds(3_600), now: later)

        #expect(Set(rotated.map(\.rotation.contextValue)) == ["org_1", "org_2"])
        #expect(rotated.allSatisfy { $0.rotation.version == 2 && $0.environmentID == env })
        #expect(try await vault.rotateKEKs(olderThan: .seconds(3_600), now: Date()).isEmpty)
        let fresh = try await vault.createDataKey(context: context, environmentID: env)
        #expect(try await fixture.kekVersion(id: try #require(try kekIDs(fresh.encryptedKeys).first)) == 2)
    }

    @Test(arguments: TestBackend.allCases)
    func concurrentMaxAgeRotationsGiveEachDuePairExactlyOneNewVersion(backend: TestBackend) async throws {
        let fixture = try await TemporaryVault(backend)
        let vaults = [fixture.vault, try await fixture.openAnother()]
        let env = LocalVault.defaultEnvironmentID
        for index in 0..<6 {
            _ = try await fixture.vault.createDataKey(
                context: KeyContext(["organization_id": "org_\(index)"]),
                environmentID: env
            )
        }
        try await Task.sleep(for: .milliseconds(300))
        // One instant for every caller: a version one of them adds is newer than the cutoff.
        let now = Date()

        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<4 {
                group.addTask { try await vaults[index % 2].rotateKEKs(olderThan: .milliseconds(200), now: now).count }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }

        #expect(counts.reduce(0, +) == 6)
        #expect(try await fixture.kekVersions() == Array(repeating: 1, count: 6) + Array(repeating: 2, count: 6))
    }
}
