import Foundation
import LocalVault
import Testing
import VaultAPI
import WorkOSVault

/// A deleted object's name stays held until the purge, through the client.
@Suite("the client sees deleted names held until the purge")
struct DeleteHoldsNameClientTests {
    static func checkHeld(_ vault: Vault) async throws {
        let created = try await vault.createObject(name: "db-password", value: "v1", context: ["organization_id": "o"])
        _ = try await vault.deleteObject(id: created.id)
        let error = await #expect(throws: VaultError.self) {
            _ = try await vault.createObject(name: "db-password", value: "v2", context: ["organization_id": "o"])
        }
        #expect(error?.code == .conflict)
        #expect(error?.httpStatus == 409)
        #expect(error?.message.contains("held by a deleted object until it is purged, at 20") == true)
        #expect(error?.message.contains("v2") == false)
    }

    static func checkFreedAtOnce(_ vault: Vault) async throws {
        let created = try await vault.createObject(name: "db-password", value: "v1", context: ["organization_id": "o"])
        _ = try await vault.deleteObject(id: created.id)
        let again = try await vault.createObject(name: "db-password", value: "v2", context: ["organization_id": "o"])
        #expect(try await vault.readObject(named: "db-password").id == again.id)
    }

    @Test func heldAgainstVaultServe() async throws {
        try await LiveServer.run { live in try await Self.checkHeld(live.vault) }
    }

    @Test func freedAtOnceAgainstVaultServeWithZeroDelay() async throws {
        try await LiveServer.run(purgeDelay: .zero) { live in try await Self.checkFreedAtOnce(live.vault) }
    }

    @Test(arguments: [false, true])
    func throughTheEmbeddedConfiguration(zeroDelay: Bool) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vault-del-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let vault = try Vault(
            configuration: VaultConfiguration(
                backend: .embedded(dataDirectory: directory),
                embeddedPurgeDelay: zeroDelay ? .zero : .seconds(300)
            )
        )
        if zeroDelay {
            try await Self.checkFreedAtOnce(vault)
        } else {
            try await Self.checkHeld(vault)
        }
    }

    @Test(arguments: [false, true])
    func againstTheEmbeddedStore(zeroDelay: Bool) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vault-del-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let engine = try LocalVault(
            configuration: LocalVaultConfiguration(
                dataDirectory: directory,
                purgeDelay: zeroDelay ? .zero : LocalVaultConfiguration.defaultPurgeDelay
            )
        )
        let vault = Vault(resolver: EmbeddedKEKResolver(vault: engine), objects: EmbeddedObjectService(vault: engine))
        if zeroDelay {
            try await Self.checkFreedAtOnce(vault)
        } else {
            try await Self.checkHeld(vault)
        }
    }
}
