import EnvelopeCrypto
import Foundation
import LocalVault
import Testing
import VaultAPI

/// BYOK with the file provider: a context pair mapped to a customer key uses it as that pair's
/// KEK; an unusable customer key is a 403, never a silent fallback.
@Suite struct CustomerKeyTests {
    let env = LocalVault.defaultEnvironmentID

    static func mapping(path: String) -> CustomerKeyMapping {
        CustomerKeyMapping(
            contextKey: "organization_id",
            contextValue: "org_abc",
            keyID: "cmk_org_abc",
            provider: FileKeyProvider(keyID: "cmk_org_abc", path: path)
        )
    }

    @Test(arguments: TestBackend.allCases)
    func matchingContextsUseTheCustomerKeyAndRevocationTakesEffect(backend: TestBackend) async throws {
        let keyFolder = FileManager.default.temporaryDirectory.appendingPathComponent("cmk-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: keyFolder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: keyFolder) }
        let keyPath = keyFolder + "/org_abc.key"
        try Data(try DataKey.generate().base64EncodedString().utf8).write(to: URL(fileURLWithPath: keyPath))

        let temporary = try await TemporaryVault(backend, customerKeys: [Self.mapping(path: keyPath)])
        let vault = temporary.vault
        let byok = try await vault.createDataKey(
            context: ["organization_id": "org_abc", "region": "eu"],
            environmentID: env
        )
        #expect(String(decoding: byok.encryptedKeys, as: UTF8.self).contains("cmk_org_abc"))
        let managed = try await vault.createDataKey(context: ["organization_id": "org_other"], environmentID: env)
        #expect(!String(decoding: managed.encryptedKeys, as: UTF8.self).contains("cmk_org_abc"))
        #expect(try await vault.decryptDataKey(encryptedKeys: byok.encryptedKeys, environmentID: env).key == byok.key)
        let object = try await vault.createObject(
            name: "s",
            value: "v",
            context: ["organization_id": "org_abc"],
            caller: .alice
        )

        // The service loses access to the customer key.
        try FileManager.default.removeItem(atPath: keyPath)
        for operation in [
            { _ = try await vault.decryptDataKey(encryptedKeys: byok.encryptedKeys, environmentID: env) },
            { _ = try await vault.createDataKey(context: ["organization_id": "org_abc"], environmentID: env) },
            { _ = try await vault.readObject(id: object.id, environmentID: env) },
        ] as [@Sendable () async throws -> Void] {
            let error = await #expect(throws: LocalVaultError.self) { try await operation() }
            #expect(error?.httpStatus == 403)
            #expect(error?.message.contains("insufficient permissions") == true)
        }
        // Other contexts are unaffected.
        #expect(
            try await vault.decryptDataKey(encryptedKeys: managed.encryptedKeys, environmentID: env).key == managed.key
        )
    }
}
