import Foundation
import LocalVault
import Testing

@testable import CustomerKeyProviders

/// The BYOK file: each provider's fields, relative paths, and the mistakes it refuses.
struct CustomerKeyConfigurationTests {
    @Test func fileEntriesLoadWithPathsRelativeToTheFile() throws {
        try withConfiguration(
            #"{"customer_keys": [{"context_key": "organization_id", "context_value": "org_abc", "key_id": "cmk_org_abc", "provider": "file", "path": "org_abc.key"}]}"#
        ) { folder, file in
            let mappings = try CustomerKeyConfiguration.load(file: file)
            #expect(mappings.count == 1)
            #expect(mappings.first?.keyID == "cmk_org_abc")
            #expect(mappings.first?.contextKey == "organization_id")
            #expect(mappings.first?.contextValue == "org_abc")
            #expect((mappings.first?.provider as? FileKeyProvider)?.path == folder + "/org_abc.key")
        }
    }

    @Test func anUnknownProviderIsRefusedNamingTheKnownOnes() throws {
        try withConfiguration(
            #"{"customer_keys": [{"context_key": "a", "context_value": "b", "key_id": "k", "provider": "aws", "path": "x"}]}"#
        ) { _, file in
            let error = #expect(throws: LocalVaultError.self) { try CustomerKeyConfiguration.load(file: file) }
            #expect(error?.message.contains("unknown provider 'aws'") == true)
            for known in CustomerKeyConfiguration.knownProviders {
                #expect(error?.message.contains(known) == true)
            }
        }
    }

    @Test func aMissingFieldIsNamed() throws {
        try withConfiguration(
            #"{"customer_keys": [{"context_key": "a", "context_value": "b", "key_id": "k", "provider": "file"}]}"#
        ) { _, file in
            let error = #expect(throws: LocalVaultError.self) { try CustomerKeyConfiguration.load(file: file) }
            #expect(error?.message.contains("'path'") == true)
        }
    }

    @Test func anInlineSecretIsRefusedWithoutRepeatingIt() throws {
        try withConfiguration(
            #"{"customer_keys": [{"context_key": "a", "context_value": "b", "key_id": "k", "provider": "azure-key-vault", "client_secret": "s3cr3t-value"}]}"#
        ) { _, file in
            let error = #expect(throws: LocalVaultError.self) { try CustomerKeyConfiguration.load(file: file) }
            #expect(error?.message.contains("client_secret") == true)
            #expect(error?.message.contains("s3cr3t-value") == false)
        }
    }

    @Test func malformedJSONIsATypedError() throws {
        try withConfiguration(#"{"customer_keys": [{"context_key": 1}]}"#) { _, file in
            #expect(throws: LocalVaultError.self) { try CustomerKeyConfiguration.load(file: file) }
        }
        #expect(throws: LocalVaultError.self) {
            try CustomerKeyConfiguration.load(file: "/nonexistent-\(UUID().uuidString)/byok.json")
        }
    }
}

/// Writes `json` as `byok.json` in a temporary folder and calls `body` with the folder and the file.
func withConfiguration(_ json: String, _ body: (String, String) throws -> Void) throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cmk-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let file = folder + "/byok.json"
    try Data(json.utf8).write(to: URL(fileURLWithPath: file))
    try body(folder, file)
}
