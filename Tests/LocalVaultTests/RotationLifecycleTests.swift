import EnvelopeCrypto
import Foundation
import Testing
import VaultAPI

@testable import LocalVault

/// The whole key lifecycle in one run, as an operator's runbook does it: data sealed before any
/// rotation (a client-side blob and a stored object) survives a KEK rotation, a rewrap and a
/// root-key rotation; retiring the old KEK version then refuses exactly what still uses it; and
/// no ciphertext is ever rewritten.
@Suite(.timeLimit(.minutes(2)))
struct RotationLifecycleTests {
    let context = KeyContext(["organization_id": "org_1"])
    let env = LocalVault.defaultEnvironmentID

    /// The KEK ids of a keys blob's Vault-managed entries.
    func kekIDs(_ encryptedKeys: [UInt8]) throws -> [String] {
        try #require(KeysBlob(parsing: encryptedKeys)).entries.filter { $0.kind == .vault }.map(\.kekID)
    }

    /// The ciphertext of a blob (its last bytes in every layout this test writes, layout A).
    func ciphertext(_ blob: EnvelopeBlob) -> [UInt8] { Array(blob.bytes.suffix(blob.ciphertextCount)) }

    /// A client-side blob as `vault encrypt` seals one: a data key from the vault, AES-GCM locally.
    func sealBlob(_ text: String, in vault: LocalVault) async throws -> EnvelopeBlob {
        let issued = try await vault.createDataKey(context: context, environmentID: env)
        return try EnvelopeBlob.seal(Array(text.utf8), with: issued.key, encryptedKeys: issued.encryptedKeys)
    }

    /// The plaintext of a blob, its data key unwrapped by `vault`.
    func open(_ blob: EnvelopeBlob, in vault: LocalVault) async throws -> String {
        let key = try await vault.decryptDataKey(encryptedKeys: blob.encryptedKeys, environmentID: env).key
        return String(decoding: try blob.open(with: key), as: UTF8.self)
    }

    @Test(arguments: TestBackend.allCases)
    func dataSealedBeforeKEKRotationRewrapAndRootKeyRotationOpensAfterAllThree(backend: TestBackend) async throws {
        // No background purge: the root-key rotation needs the store to itself once the vault is closed.
        let fixture = try await TemporaryVault(backend, purgesInBackground: false)
        let kept = try await sealBlob("4242", in: fixture.vault)
        let stale = try await sealBlob("1717", in: fixture.vault)
        let created = try await fixture.vault.createObject(
            name: "db/password",
            value: "one",
            context: context,
            caller: .alice
        )
        _ = try await fixture.vault.updateObject(id: created.id, value: "two", versionCheck: nil, caller: .alice)
        let oldKEK = try #require(try kekIDs(kept.encryptedKeys).first)
        let sealedBefore = try await fixture.sealedValues()
        let etagsBefore = try await fixture.etags()
        #expect(sealedBefore.count == 2)
        let oldRootKey = try Data(contentsOf: URL(fileURLWithPath: fixture.directory + "/root.key"))

        // 1. KEK rotation, and the client's half of it: the kept blob's data key is rekeyed.
        let rotations = try await fixture.vault.rotateKEKs(context: context, environmentID: env)
        #expect(rotations == [KEKRotation(contextKey: "organization_id", contextValue: "org_1", version: 2)])
        let rekeyed = try await fixture.vault.rekey(
            encryptedKeys: kept.encryptedKeys,
            context: context,
            environmentID: env
        )
        let newKEK = try #require(try kekIDs(rekeyed.encryptedKeys).first)
        #expect(newKEK != oldKEK)
        #expect(try await fixture.kekVersion(id: newKEK) == 2)
        let keptAfter = try kept.replacingEncryptedKeys(rekeyed.encryptedKeys)

        // 2. Rewrap of the stored object versions.
        let rewrap = try await fixture.vault.rewrapStoredObjects()
        #expect(rewrap == RewrapProgress(scanned: 2, rewrapped: 2, skipped: 0))

        // 3. Root-key rotation, the vault closed meanwhile and reopened with the new key.
        let report = try await fixture.rotateRootKey()
        #expect(report.rewrappedKEKs == 2)
        let newRootKey = try Data(contentsOf: URL(fileURLWithPath: fixture.directory + "/root.key"))
        #expect(newRootKey != oldRootKey)
        let oldRootKeyError = await #expect(throws: LocalVaultError.self) {
            try await fixture.openAnother(rootKey: .base64(oldRootKey.base64EncodedString()))
        }
        #expect(oldRootKeyError?.rule == .rootKey)

        // After all three, everything sealed before opens.
        let vault = fixture.vault
        #expect(try await open(kept, in: vault) == "4242", "the blob as sealed, under KEK version 1")
        #expect(try await open(keptAfter, in: vault) == "4242", "the blob rekeyed to KEK version 2")
        #expect(try await open(stale, in: vault) == "1717")
        #expect(try await vault.readObject(id: created.id, environmentID: env).value == "two")
        #expect(try await vault.readObject(id: created.id, version: .number(1), environmentID: env).value == "one")

        // Retiring version 1: nothing stored uses it any more, so it is retired.
        let retired = try await vault.retireKEKVersions(
            contextKey: "organization_id",
            contextValue: "org_1",
            below: 2,
            environmentID: env
        )
        #expect(retired == .retired(count: 1))
        for blob in [stale, kept] {
            let refused = await #expect(throws: LocalVaultError.self) {
                try await vault.decryptDataKey(encryptedKeys: blob.encryptedKeys, environmentID: env)
            }
            #expect(refused == LocalVaultError.foreignKeys, "a data key still under the retired version")
        }
        #expect(try await open(keptAfter, in: vault) == "4242")
        #expect(try await vault.readObject(id: created.id, environmentID: env).value == "two")
        #expect(try await vault.readObject(id: created.id, version: .number(1), environmentID: env).value == "one")
        // The refusal is the store's, not a cache's: a restart refuses the same.
        try await fixture.reopen()
        await #expect(throws: LocalVaultError.self) {
            try await fixture.vault.decryptDataKey(encryptedKeys: stale.encryptedKeys, environmentID: env)
        }
        #expect(try await open(keptAfter, in: fixture.vault) == "4242")

        // Nothing was re-encrypted: only wrapped keys moved.
        #expect(keptAfter.iv == kept.iv && keptAfter.tag == kept.tag && ciphertext(keptAfter) == ciphertext(kept))
        let reopened = try await fixture.vault.decryptDataKey(
            encryptedKeys: keptAfter.encryptedKeys,
            environmentID: env
        )
        #expect(reopened.key == rekeyed.key)
        let sealedAfter = try await fixture.sealedValues()
        #expect(Set(sealedAfter.keys) == Set(sealedBefore.keys))
        for (id, old) in sealedBefore {
            let before = try EnvelopeBlob(parsing: old, layout: .a)
            let after = try EnvelopeBlob(parsing: try #require(sealedAfter[id]), layout: .a)
            #expect(after.iv == before.iv, "IV unchanged")
            #expect(after.tag == before.tag, "tag unchanged")
            #expect(ciphertext(after) == ciphertext(before), "ciphertext unchanged")
            #expect(try kekIDs(before.encryptedKeys) == [oldKEK])
            #expect(try kekIDs(after.encryptedKeys) == [newKEK])
        }
        #expect(try await fixture.etags() == etagsBefore)
    }
}
