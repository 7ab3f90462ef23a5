import EnvelopeCrypto
import Foundation
import LocalVault
import Testing
import VaultAPI

/// Every entry of `encrypted_keys` is bound to the environment that issued it: a blob taken to
/// another environment is refused by `keys/decrypt` and `keys/rekey` with the 400 of any foreign
/// blob, customer-key (BYOK) entries included.
@Suite struct EnvironmentBindingTests {
    static let local = LocalVault.defaultEnvironmentID
    static let staging = "environment_staging"

    static func customerKeyFile() throws -> (folder: String, mapping: CustomerKeyMapping) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cmk-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/org_abc.key"
        try Data(try DataKey.generate().base64EncodedString().utf8).write(to: URL(fileURLWithPath: path))
        return (folder, CustomerKeyTests.mapping(path: path))
    }

    static func expectForeign(
        sourceLocation: SourceLocation = #_sourceLocation,
        _ operation: () async throws -> Void
    ) async {
        do {
            try await operation()
            Issue.record("encrypted keys of another environment were accepted", sourceLocation: sourceLocation)
        } catch let error as LocalVaultError {
            #expect(error.httpStatus == 400, "\(error)", sourceLocation: sourceLocation)
            #expect(error == .foreignKeys, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test(
        "a data key issued in one environment does not decrypt or rekey in another",
        arguments: TestBackend.allCases,
        [
            ["organization_id": "org_abc"],
            ["organization_id": "org_abc", "region": "eu"],
            ["organization_id": "org_other"],
        ] as [KeyContext]
    )
    func keysStayInTheirEnvironment(backend: TestBackend, context: KeyContext) async throws {
        let (folder, mapping) = try Self.customerKeyFile()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let temporary = try await TemporaryVault(backend, customerKeys: [mapping])
        let vault = temporary.vault
        for (issuer, other) in [(Self.local, Self.staging), (Self.staging, Self.local)] {
            let issued = try await vault.createDataKey(context: context, environmentID: issuer)
            #expect(
                try await vault.decryptDataKey(encryptedKeys: issued.encryptedKeys, environmentID: issuer).key
                    == issued.key
            )
            await Self.expectForeign {
                _ = try await vault.decryptDataKey(encryptedKeys: issued.encryptedKeys, environmentID: other)
            }
            await Self.expectForeign {
                _ = try await vault.rekey(encryptedKeys: issued.encryptedKeys, context: context, environmentID: other)
            }
            let rekeyed = try await vault.rekey(
                encryptedKeys: issued.encryptedKeys,
                context: context,
                environmentID: issuer
            )
            #expect(rekeyed.key == issued.key)
            await Self.expectForeign {
                _ = try await vault.decryptDataKey(encryptedKeys: rekeyed.encryptedKeys, environmentID: other)
            }
        }
    }

    @Test("new blobs are version 2, and one relabelled as version 1 opens nowhere", arguments: TestBackend.allCases)
    func relabelledVersionDoesNotOpen(backend: TestBackend) async throws {
        let (folder, mapping) = try Self.customerKeyFile()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let temporary = try await TemporaryVault(backend, customerKeys: [mapping])
        let vault = temporary.vault
        for context in [["organization_id": "org_abc"], ["organization_id": "org_other"]] as [KeyContext] {
            let issued = try await vault.createDataKey(context: context, environmentID: Self.local)
            #expect(issued.encryptedKeys[KeysBlobPrefix.localVault.count] == 2)
            var relabelled = issued.encryptedKeys
            relabelled[KeysBlobPrefix.localVault.count] = 1
            for environment in [Self.local, Self.staging] {
                await Self.expectForeign {
                    _ = try await vault.decryptDataKey(encryptedKeys: relabelled, environmentID: environment)
                }
            }
        }
    }

    @Test(
        "a replaced customer key: a client's blob is foreign (400), a stored object is a 403",
        arguments: TestBackend.allCases
    )
    func replacedCustomerKey(backend: TestBackend) async throws {
        let (folder, mapping) = try Self.customerKeyFile()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let temporary = try await TemporaryVault(backend, customerKeys: [mapping])
        let vault = temporary.vault
        let context: KeyContext = ["organization_id": "org_abc"]
        let issued = try await vault.createDataKey(context: context, environmentID: Self.local)
        let object = try await vault.createObject(name: "s", value: "v", context: context, caller: .alice)
        let path = try #require((mapping.provider as? FileKeyProvider)?.path)
        try Data(try DataKey.generate().base64EncodedString().utf8).write(to: URL(fileURLWithPath: path))
        await Self.expectForeign {
            _ = try await vault.decryptDataKey(encryptedKeys: issued.encryptedKeys, environmentID: Self.local)
        }
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.readObject(id: object.id, environmentID: Self.local)
        }
        #expect(error?.httpStatus == 403)
    }
}
