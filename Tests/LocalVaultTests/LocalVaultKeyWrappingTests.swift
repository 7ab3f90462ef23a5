import EnvelopeCrypto
import Foundation
import LocalVault
import Testing
import VaultAPI

/// ``LocalVaultKeyWrapping`` reads who wraps a data key (customer key or Vault KEK) from the
/// `encrypted_keys` entries, and answers nil for anything that is not a LocalVault keys blob.
@Suite struct LocalVaultKeyWrappingTests {
    let env = LocalVault.defaultEnvironmentID

    @Test(arguments: TestBackend.allCases)
    func customerAndVaultKeysAreToldApart(backend: TestBackend) async throws {
        let keyFolder = FileManager.default.temporaryDirectory.appendingPathComponent("cmk-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: keyFolder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: keyFolder) }
        let keyPath = keyFolder + "/org_abc.key"
        try Data(try DataKey.generate().base64EncodedString().utf8).write(to: URL(fileURLWithPath: keyPath))
        let temporary = try await TemporaryVault(backend, customerKeys: [CustomerKeyTests.mapping(path: keyPath)])

        let byok = try await temporary.vault.createDataKey(
            context: ["organization_id": "org_abc", "region": "eu"],
            environmentID: env
        )
        let mixed = try #require(LocalVaultKeyWrapping(encryptedKeys: byok.encryptedKeys))
        #expect(mixed.customerKeyIDs == ["cmk_org_abc"])
        #expect(mixed.vaultKEKCount == 1)
        #expect(mixed.usesCustomerManagedKey)

        let managed = try await temporary.vault.createDataKey(context: ["organization_id": "org_x"], environmentID: env)
        let vaultOnly = try #require(LocalVaultKeyWrapping(encryptedKeys: managed.encryptedKeys))
        #expect(vaultOnly.customerKeyIDs.isEmpty)
        #expect(vaultOnly.vaultKEKCount == 1)
        #expect(!vaultOnly.usesCustomerManagedKey)

        // A cut blob, another service's prefix, and no bytes at all are not LocalVault blobs.
        #expect(LocalVaultKeyWrapping(encryptedKeys: Array(managed.encryptedKeys.dropLast())) == nil)
        #expect(LocalVaultKeyWrapping(encryptedKeys: KeysBlobPrefix.workOS + Array(repeating: 1, count: 40)) == nil)
        #expect(LocalVaultKeyWrapping(encryptedKeys: []) == nil)
    }
}
