import EnvelopeCrypto
import Testing
import VaultAPI

@testable import LocalVault

/// `vault.byok_key.deleted`: replacing the customer-key mappings (a SIGHUP reload of the BYOK
/// file) records one for each organization whose key in a cloud key service left.
@Suite struct CustomerKeyDeletedEventTests {
    static let staging = "environment_staging"

    /// A cloud key service's provider that is never called: the events need its service only.
    struct CloudKey: CustomerKeyProvider {
        let keyService: VaultKeyProvider?

        func wrap(_ key: DataKey, associatedData: [UInt8]) async throws -> [UInt8] {
            throw LocalVaultError(.insufficientPermissions, "not used")
        }

        func unwrap(_ wrapped: [UInt8], associatedData: [UInt8]) async throws -> DataKey {
            throw LocalVaultError(.insufficientPermissions, "not used")
        }
    }

    static func mapping(
        _ value: String,
        key: String = "organization_id",
        keyID: String,
        _ service: VaultKeyProvider?
    ) -> CustomerKeyMapping {
        CustomerKeyMapping(contextKey: key, contextValue: value, keyID: keyID, provider: CloudKey(keyService: service))
    }

    static let before = [
        mapping("org_aws", keyID: "cmk_aws", .awsKMS),
        mapping("org_gcp", keyID: "cmk_gcp", .gcpKMS),
        mapping("org_azure", keyID: "cmk_azure_1", .azureKeyVault),
        mapping("org_file", keyID: "cmk_file", nil),
        mapping("team_x", key: "team", keyID: "cmk_team", .awsKMS),
    ]
    /// org_aws, org_file and team_x removed; org_azure moved to another key; org_gcp kept.
    static let after = [
        mapping("org_gcp", keyID: "cmk_gcp", .gcpKMS),
        mapping("org_azure", keyID: "cmk_azure_2", .azureKeyVault),
    ]

    @Test(
        "a removed or replaced cloud key of an organization is recorded in each environment, as the admin",
        arguments: TestBackend.allCases
    )
    func removedCloudKeysAreRecorded(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend, customerKeys: Self.before, recordsEvents: true)
        let vault = temporary.vault
        let removed = vault.replaceCustomerKeys(Self.after)
        #expect(Set(removed.map(\.keyID)) == ["cmk_aws", "cmk_azure_1", "cmk_file", "cmk_team"])
        try await vault.recordCustomerKeysDeleted(removed, environmentIDs: [EventTests.env, Self.staging])

        for environmentID in [EventTests.env, Self.staging] {
            let events = try await EventTests.events(vault, [.byokKeyDeleted], environmentID: environmentID)
            let recorded = Set(
                events.map { "\($0.data.organizationID ?? "-") \($0.data.keyProvider?.rawValue ?? "-")" }
            )
            #expect(recorded == ["org_aws AWS_KMS", "org_azure AZURE_KEY_VAULT"], "\(environmentID)")
            #expect(events.count == 2)
            for event in events {
                #expect(event.event == .byokKeyDeleted)
                #expect(event.data.actorID == LocalVault.adminActor.id)
                #expect(event.data.actorName == LocalVault.adminActor.name)
                #expect(event.data.actorSource == "api")
                #expect(event.data.keyID == nil && event.data.keyName == nil && event.data.verified == nil)
            }
        }
        let filtered = try await vault.listEvents(
            EventListQuery(events: [.byokKeyDeleted], organizationID: "org_aws"),
            environmentID: Self.staging
        )
        #expect(filtered.data.map(\.data.keyProvider) == [.awsKMS])
        #expect(try await vault.verifyEvents().allSatisfy { $0.broken == nil })

        // Nothing left to remove: no event.
        try await vault.recordCustomerKeysDeleted(vault.replaceCustomerKeys(Self.after), environmentIDs: [Self.staging])
        #expect(try await EventTests.events(vault, [.byokKeyDeleted], environmentID: Self.staging).count == 2)
    }

    @Test("the new mappings are in force at once, and the same key under another service counts as removed")
    func replacementTakesEffect() async throws {
        let temporary = try await TemporaryVault(.sqlite, customerKeys: Self.before, recordsEvents: true)
        let vault = temporary.vault
        let moved = vault.replaceCustomerKeys([Self.mapping("org_aws", keyID: "cmk_aws", .gcpKMS)])
        #expect(moved.map(\.contextValue).contains("org_aws"))
        #expect(vault.customerKeyTable.withLock { $0.values.map(\.keyID) } == ["cmk_aws"])
        try await vault.recordCustomerKeysDeleted(moved, environmentIDs: [EventTests.env])
        let events = try await EventTests.events(vault, [.byokKeyDeleted])
        #expect(Set(events.map(\.data.organizationID)) == ["org_aws", "org_gcp", "org_azure"])
        #expect(events.first { $0.data.organizationID == "org_aws" }?.data.keyProvider == .awsKMS)
    }

    @Test("a vault that records no events records none, and does not fail", arguments: TestBackend.allCases)
    func offRecordsNothing(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend, customerKeys: Self.before)
        let removed = temporary.vault.replaceCustomerKeys([])
        #expect(removed.count == Self.before.count)
        try await temporary.vault.recordCustomerKeysDeleted(removed, environmentIDs: [EventTests.env])
        #expect(try await temporary.vault.storage.eventEnvironments().isEmpty)
    }
}
