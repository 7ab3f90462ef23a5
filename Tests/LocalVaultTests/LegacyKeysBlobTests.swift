import EnvelopeCrypto
import Foundation
import LocalVault
import Testing
import VaultAPI

/// Version-1 `encrypted_keys` (written before environments were bound) keep working where their
/// environment is shown, and nowhere else: a Vault-managed entry shows it; a blob of customer-key
/// entries only is accepted in the configured legacy environments; stored objects in their own.
@Suite struct LegacyKeysBlobTests {
    static let local = LocalVault.defaultEnvironmentID
    static let staging = "environment_staging"

    func expectOpens(
        _ vault: LocalVault,
        _ fixture: LegacyStoreFixture,
        _ name: String,
        in environment: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let blob = try fixture.encryptedKeys(name)
        let opened = try await vault.decryptDataKey(encryptedKeys: blob, environmentID: environment)
        #expect(opened.key == (try fixture.dataKey(name)), sourceLocation: sourceLocation)
        #expect(opened.id == fixture.cases[name]?.id, sourceLocation: sourceLocation)
        let rekeyed = try await vault.rekey(
            encryptedKeys: blob,
            context: ["organization_id": "org_abc"],
            environmentID: environment
        )
        #expect(rekeyed.key == (try fixture.dataKey(name)), sourceLocation: sourceLocation)
        #expect(rekeyed.encryptedKeys[KeysBlobPrefix.localVault.count] == 2, sourceLocation: sourceLocation)
    }

    func expectRefused(
        _ vault: LocalVault,
        _ fixture: LegacyStoreFixture,
        _ name: String,
        in environment: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let blob = try fixture.encryptedKeys(name)
        await EnvironmentBindingTests.expectForeign(sourceLocation: sourceLocation) {
            _ = try await vault.decryptDataKey(encryptedKeys: blob, environmentID: environment)
        }
        await EnvironmentBindingTests.expectForeign(sourceLocation: sourceLocation) {
            _ = try await vault.rekey(encryptedKeys: blob, context: ["k": "v"], environmentID: environment)
        }
    }

    @Test("a version-1 blob with a Vault-managed entry opens in its own environment only")
    func vaultEntryShowsTheEnvironment() async throws {
        let fixture = try LegacyStoreFixture()
        let vault = try fixture.open()
        try await expectOpens(vault, fixture, "mixed-staging", in: Self.staging)
        try await expectRefused(vault, fixture, "mixed-staging", in: Self.local)
        try await expectOpens(vault, fixture, "mixed-local", in: Self.local)
        try await expectRefused(vault, fixture, "mixed-local", in: Self.staging)
        try await expectOpens(vault, fixture, "vault-only-staging", in: Self.staging)
        try await expectRefused(vault, fixture, "vault-only-staging", in: Self.local)
    }

    @Test("a version-1 blob of customer-key entries only opens in the legacy environments only")
    func customerOnlyBlobsOpenInLegacyEnvironments() async throws {
        let fixture = try LegacyStoreFixture()
        // Default: the default environment, where API keys without an environment issued theirs.
        let byDefault = try fixture.open()
        try await expectOpens(byDefault, fixture, "customer-only-local", in: Self.local)
        try await expectRefused(byDefault, fixture, "customer-only-local", in: Self.staging)
        try await expectRefused(byDefault, fixture, "customer-only-staging", in: Self.staging)

        let staging = try fixture.open(legacyCustomerKeyEnvironments: [Self.staging])
        try await expectOpens(staging, fixture, "customer-only-staging", in: Self.staging)
        try await expectRefused(staging, fixture, "customer-only-staging", in: Self.local)

        let nowhere = try fixture.open(legacyCustomerKeyEnvironments: [])
        for environment in [Self.local, Self.staging] {
            try await expectRefused(nowhere, fixture, "customer-only-local", in: environment)
        }
    }

    @Test("objects stored before the change read back in their environment, BYOK included")
    func storedObjectsStillRead() async throws {
        let fixture = try LegacyStoreFixture()
        let vault = try fixture.open(legacyCustomerKeyEnvironments: [])
        for name in ["byok-staging", "byok-local", "managed-staging"] {
            let stored = try #require(fixture.cases[name])
            let object = try await vault.readObject(id: stored.id, environmentID: stored.environment_id)
            #expect(object.value == stored.value)
            let other = stored.environment_id == Self.local ? Self.staging : Self.local
            await #expect(throws: LocalVaultError.self) {
                _ = try await vault.readObject(id: stored.id, environmentID: other)
            }
        }
    }

    @Test("VAULT_LEGACY_BYOK_ENVIRONMENTS: unset is the default environment, empty is none, else a comma list")
    func legacyEnvironmentsVariable() {
        #expect(LocalVaultConfiguration.legacyCustomerKeyEnvironments(variable: nil) == [Self.local])
        #expect(LocalVaultConfiguration.legacyCustomerKeyEnvironments(variable: "").isEmpty)
        #expect(
            LocalVaultConfiguration.legacyCustomerKeyEnvironments(variable: " environment_a, environment_b ,")
                == ["environment_a", "environment_b"]
        )
    }
}
