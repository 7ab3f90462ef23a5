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

    func version(ofKEK id: String, in vault: LocalVault) async throws -> Int? {
        try await vault.store.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT version FROM keks WHERE id = ?", arguments: [id])
        }
    }

    func sealedValues(_ vault: LocalVault) async throws -> [String: [UInt8]] {
        try await vault.store.pool.read { db in
            Dictionary(
                uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT id, sealed_value FROM object_versions").map {
                    ($0["id"] as String, Array($0["sealed_value"] as Data))
                }
            )
        }
    }

    func etags(_ vault: LocalVault) async throws -> [String] {
        try await vault.store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT etag FROM object_versions ORDER BY id")
        }
    }

    @Test func blobSealedBeforeRotationDecryptsAfterRotationRekeyAndRewrap() async throws {
        let fixture = try TemporaryVault()
        let vault = fixture.vault
        let env = LocalVault.defaultEnvironmentID
        let before = try await vault.createDataKey(context: context, environmentID: env)
        let object = try await vault.createObject(name: "db", value: "hunter2", context: context, caller: .alice)
        let oldID = try #require(try kekIDs(before.encryptedKeys).first)
        #expect(try await version(ofKEK: oldID, in: vault) == 1)

        let rotations = try await vault.rotateKEKs(context: context, environmentID: env)

        #expect(rotations == [KEKRotation(contextKey: "organization_id", contextValue: "org_1", version: 2)])
        let after = try await vault.createDataKey(context: context, environmentID: env)
        let newID = try #require(try kekIDs(after.encryptedKeys).first)
        #expect(newID != oldID)
        #expect(try await version(ofKEK: newID, in: vault) == 2)
        #expect(
            try await vault.decryptDataKey(encryptedKeys: before.encryptedKeys, environmentID: env).key == before.key
        )
        let rekeyed = try await vault.rekey(encryptedKeys: before.encryptedKeys, context: context, environmentID: env)
        #expect(try kekIDs(rekeyed.encryptedKeys) == [newID])
        #expect(rekeyed.key == before.key)
        #expect(try await vault.readObject(id: object.id, environmentID: env).value == "hunter2")

        let sealedBefore = try await sealedValues(vault)
        let etagBefore = try await etags(vault)
        let first = try await vault.rewrapStoredObjects(batchSize: 1)
        #expect(first.rewrapped == 1)
        let sealedAfter = try await sealedValues(vault)
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
        #expect(try await etags(vault) == etagBefore)
        let second = try await vault.rewrapStoredObjects()
        #expect(second.rewrapped == 0 && second.skipped == 1)
        #expect(try await sealedValues(vault) == sealedAfter)
    }

    @Test func retireRefusesWhileStoredObjectsUseVersionAndRefusesDecryptsAfter() async throws {
        let fixture = try TemporaryVault()
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
        try fixture.reopen()
        await #expect(throws: LocalVaultError.self) {
            try await fixture.vault.decryptDataKey(encryptedKeys: clientBlob.encryptedKeys, environmentID: env)
        }
        #expect(try await fixture.vault.readObject(id: object.id, environmentID: env).value == "hunter2")
        let fresh = try await fixture.vault.createDataKey(context: context, environmentID: env)
        #expect(try await version(ofKEK: try #require(try kekIDs(fresh.encryptedKeys).first), in: fixture.vault) == 2)
    }

    @Test func rootKeyRotationAfterKEKRotationOpensEveryVersion() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kekrot-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = LocalVaultConfiguration(dataDirectory: directory, purgesInBackground: false)
        let env = LocalVault.defaultEnvironmentID
        var vault: LocalVault? = try LocalVault(configuration: configuration)
        let v1 = try await vault!.createDataKey(context: context, environmentID: env)
        _ = try await vault!.rotateKEKs(context: context, environmentID: env)
        let v2 = try await vault!.createDataKey(context: context, environmentID: env)
        vault = nil

        #expect(try await LocalVault.rotateRootKey(configuration: configuration).rewrappedKEKs == 2)

        let reopened = try LocalVault(configuration: configuration)
        #expect(try await reopened.decryptDataKey(encryptedKeys: v1.encryptedKeys, environmentID: env).key == v1.key)
        #expect(try await reopened.decryptDataKey(encryptedKeys: v2.encryptedKeys, environmentID: env).key == v2.key)
        let v3 = try await reopened.createDataKey(context: context, environmentID: env)
        #expect(try kekIDs(v3.encryptedKeys) == (try kekIDs(v2.encryptedKeys)))
    }

    @Test func concurrentRotationsEndWithConsecutiveVersions() async throws {
        let fixture = try TemporaryVault()
        let other = try LocalVault(
            configuration: LocalVaultConfiguration(
                dataDirectory: fixture.directory,
                rootKey: .file(fixture.directory + "/root.key")
            )
        )
        let vaults = [fixture.vault, other]
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
        let stored = try await fixture.vault.store.pool.read { db in
            try Int.fetchAll(db, sql: "SELECT version FROM keks ORDER BY version")
        }
        #expect(stored == Array(1...13))
    }

    @Test func exclusiveOpenIsRefusedWhileAnotherVaultIsOpen() async throws {
        let fixture = try TemporaryVault()
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

    @Test func maxAgeRotatesOnlyPairsWhoseNewestVersionIsOlder() async throws {
        let fixture = try TemporaryVault()
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
        #expect(try await version(ofKEK: try #require(try kekIDs(fresh.encryptedKeys).first), in: vault) == 2)
    }
}
