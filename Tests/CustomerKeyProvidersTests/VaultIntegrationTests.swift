import EnvelopeCrypto
import Foundation
import LocalVault
import Testing

@testable import CustomerKeyProviders

/// The Google and Azure providers as the vault uses them: a context pair's KEK, through
/// LocalVault's data-key calls, against the contract doubles. A refusal at the provider is a 403
/// with no fallback to a Vault-managed KEK, and lifting it restores access.
@Suite("Vault data keys under Google Cloud KMS and Azure Key Vault keys (contract doubles)")
struct VaultIntegrationTests {
    static let env = LocalVault.defaultEnvironmentID

    /// Creates and decrypts data keys under `provider`, revokes with `disable`, restores with `enable`.
    static func exercise(
        _ provider: any CustomerKeyProvider,
        providerName: String,
        disable: @Sendable () -> Void,
        enable: @Sendable () -> Void
    ) async throws {
        let folder = try TemporaryFolder()
        let mapping = CustomerKeyMapping(
            contextKey: "organization_id",
            contextValue: "org_abc",
            keyID: "cmk_org_abc",
            provider: provider
        )
        let vault = try LocalVault(
            configuration: LocalVaultConfiguration(
                dataDirectory: folder.path + "/data",
                customerKeys: [mapping],
                purgesInBackground: false
            )
        )
        let byok = try await vault.createDataKey(context: ["organization_id": "org_abc"], environmentID: env)
        #expect(String(decoding: byok.encryptedKeys, as: UTF8.self).contains("cmk_org_abc"))
        #expect(try await vault.decryptDataKey(encryptedKeys: byok.encryptedKeys, environmentID: env).key == byok.key)
        let managed = try await vault.createDataKey(context: ["organization_id": "org_other"], environmentID: env)

        disable()
        for operation in [
            { _ = try await vault.decryptDataKey(encryptedKeys: byok.encryptedKeys, environmentID: env) },
            { _ = try await vault.createDataKey(context: ["organization_id": "org_abc"], environmentID: env) },
        ] as [@Sendable () async throws -> Void] {
            let error = await #expect(throws: LocalVaultError.self) { try await operation() }
            #expect(error?.httpStatus == 403)
            #expect(error?.message.contains(providerName) == true)
        }
        #expect(
            try await vault.decryptDataKey(encryptedKeys: managed.encryptedKeys, environmentID: env).key == managed.key
        )
        enable()
        #expect(try await vault.decryptDataKey(encryptedKeys: byok.encryptedKeys, environmentID: env).key == byok.key)
        await vault.close()
    }

    @Test("Google Cloud KMS")
    func google() async throws {
        try await GoogleKMSDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try GCPKMSProviderTests.provider(double, in: folder)
            try await Self.exercise(
                provider,
                providerName: "Google Cloud KMS",
                disable: { double.state.withLock { $0.keyEnabled = false } },
                enable: { double.state.withLock { $0.keyEnabled = true } }
            )
        }
    }

    @Test("Azure Key Vault")
    func azure() async throws {
        try await AzureKeyVaultDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try AzureKeyVaultProviderTests.provider(double, in: folder)
            try await Self.exercise(
                provider,
                providerName: "Azure Key Vault",
                disable: { double.state.withLock { $0.keyEnabled = false } },
                enable: { double.state.withLock { $0.keyEnabled = true } }
            )
        }
    }
}
