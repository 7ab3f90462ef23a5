import Foundation
import Logging
import Testing
import VaultAPI

@testable import LocalVault
@testable import LocalVaultServer

@Suite("the KEK max-age service")
struct KEKRotationServiceTests {
    @Test("rotates only KEKs past their maximum age, and new data keys use the new version at once")
    func rotatesKEKsPastMaxAge() async throws {
        try await withTemporaryDirectory { directory in
            let vault = try LocalVault(
                configuration: LocalVaultConfiguration(
                    dataDirectory: directory,
                    rootKey: .file((directory as NSString).appendingPathComponent("root.key")),
                    purgesInBackground: false
                )
            )
            let env = LocalVault.defaultEnvironmentID
            let before = try await vault.createDataKey(context: ["organization_id": "org_1"], environmentID: env)
            let service = KEKRotationService(
                vault: vault,
                maxAge: .seconds(86_400),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            await service.rotateOnce()
            #expect(
                try await vault.newestKEKVersion(
                    contextKey: "organization_id",
                    contextValue: "org_1",
                    environmentID: env
                )
                    == 1
            )
            await service.rotateOnce(now: Date().addingTimeInterval(2 * 86_400))
            #expect(
                try await vault.newestKEKVersion(
                    contextKey: "organization_id",
                    contextValue: "org_1",
                    environmentID: env
                )
                    == 2
            )
            let after = try await vault.createDataKey(context: ["organization_id": "org_1"], environmentID: env)
            let kekIDs = { (blob: [UInt8]) in KeysBlob(parsing: blob)?.entries.map(\.kekID) ?? [] }
            #expect(!kekIDs(after.encryptedKeys).isEmpty)
            #expect(kekIDs(after.encryptedKeys) != kekIDs(before.encryptedKeys))
            #expect(
                try await vault.decryptDataKey(encryptedKeys: before.encryptedKeys, environmentID: env).key
                    == before.key
            )
            #expect(
                try await vault.decryptDataKey(encryptedKeys: after.encryptedKeys, environmentID: env).key == after.key
            )
        }
    }

    @Test("vault serve refuses a --kek-max-age below one day")
    func zeroMaxAge() async throws {
        let result = try await VaultProcess.run(["serve", "--kek-max-age=0"])
        #expect(result.status != 0)
        #expect(result.error.contains("--kek-max-age must be 1 to 36500 days"))
    }
}
