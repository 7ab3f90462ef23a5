import EnvelopeCrypto
import Foundation
import LocalVault
import VaultAPI

/// A store, a customer key and client-held `encrypted_keys` written by the code before
/// environments were bound (version-1 blobs, no root-key check), in `Fixtures/localvault-v1`.
/// Each test works on its own copy of the store.
final class LegacyStoreFixture: @unchecked Sendable {
    struct Case: Decodable {
        var kind: String
        var name: String
        var environment_id: String
        var id: String
        var data_key: String?
        var encrypted_keys: String?
        var value: String?
    }

    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/localvault-v1").path

    let directory: String
    let cases: [String: Case]

    init() throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("localvault-v1-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for file in ["vault.sqlite", "root.key"] {
            try FileManager.default.copyItem(atPath: Self.source + "/store/" + file, toPath: directory + "/" + file)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.source + "/cases.json"))
        cases = Dictionary(
            uniqueKeysWithValues: try JSONDecoder().decode([Case].self, from: data).map { ($0.name, $0) }
        )
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// The customer key the fixture's BYOK blobs were wrapped under.
    static var customerKey: CustomerKeyMapping {
        CustomerKeyMapping(
            contextKey: "organization_id",
            contextValue: "org_abc",
            keyID: "cmk_org_abc",
            provider: FileKeyProvider(keyID: "cmk_org_abc", path: source + "/cmk_org_abc.key")
        )
    }

    func open(
        rootKey: RootKeySource? = nil,
        legacyCustomerKeyEnvironments: Set<String> = [LocalVault.defaultEnvironmentID]
    ) throws -> LocalVault {
        try LocalVault(
            configuration: LocalVaultConfiguration(
                dataDirectory: directory,
                rootKey: rootKey ?? .file(directory + "/root.key"),
                customerKeys: [Self.customerKey],
                legacyCustomerKeyEnvironments: legacyCustomerKeyEnvironments
            )
        )
    }

    func encryptedKeys(_ name: String) throws -> [UInt8] {
        try Base64.decode(cases[name]!.encrypted_keys!)
    }

    func dataKey(_ name: String) throws -> DataKey {
        try DataKey(base64Encoded: cases[name]!.data_key!)
    }
}
