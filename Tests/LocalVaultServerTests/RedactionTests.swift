import EnvelopeCrypto
import Foundation
import LocalVault
import LocalVaultServer
import Testing
import VaultAPI
import WorkOSVault

/// Every public type that holds a value, a data key or wrapped keys keeps them out of `dump()`,
/// `description` and `debugDescription`.
@Suite struct RedactionTests {
    static let secretValue = "4242-SECRET-VALUE-4242"

    static func printed(_ value: Any) -> [String] {
        var dumped = ""
        dump(value, to: &dumped)
        return [dumped, String(describing: value), String(reflecting: value)]
    }

    static func expectRedacted(
        _ value: Any,
        hiding secrets: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for text in printed(value) {
            for secret in secrets {
                #expect(!text.contains(secret), "\(text)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("wire types")
    func wireTypes() throws {
        let key = try DataKey.generate().base64EncodedString()
        let wrapped = "TFZTLkVLTS52MQACwrappedkeys"
        let metadata = ObjectMetadata(
            id: "obj_1",
            environmentID: "environment_local",
            keyID: "key_1",
            updatedAt: Date(),
            updatedBy: VaultActor(id: "a", name: "n"),
            context: ["k": "v"],
            versionID: "ver_1"
        )
        Self.expectRedacted(
            DataKeyResponse(id: "dk_1", dataKey: key, encryptedKeys: wrapped, context: ["k": "v"]),
            hiding: [key, wrapped]
        )
        Self.expectRedacted(DecryptDataKeyRequest(keys: wrapped), hiding: [wrapped])
        Self.expectRedacted(DecryptDataKeyResponse(id: "dk_1", dataKey: key), hiding: [key])
        Self.expectRedacted(RekeyRequest(context: ["k": "v"], encryptedKeys: wrapped), hiding: [wrapped])
        Self.expectRedacted(
            CreateObjectRequest(name: "n", value: Self.secretValue, keyContext: ["k": "v"]),
            hiding: [Self.secretValue]
        )
        Self.expectRedacted(UpdateObjectRequest(value: Self.secretValue), hiding: [Self.secretValue])
        Self.expectRedacted(
            VaultObject(id: "obj_1", name: "n", value: Self.secretValue, metadata: metadata),
            hiding: [Self.secretValue]
        )
        // Ids stay visible, so a dump is still useful.
        #expect(Self.printed(DecryptDataKeyResponse(id: "dk_visible", dataKey: key))[0].contains("dk_visible"))
    }

    @Test("engine and client types")
    func engineAndClientTypes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redact-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rootKey = try DataKey.generate().base64EncodedString()
        let configuration = LocalVaultConfiguration(dataDirectory: directory, rootKey: .base64(rootKey))
        Self.expectRedacted(configuration, hiding: [rootKey])
        Self.expectRedacted(RootKeySource.base64(rootKey), hiding: [rootKey])
        let vault = try LocalVault(configuration: configuration)
        let issued = try await vault.createDataKey(context: ["k": "v"], environmentID: LocalVault.defaultEnvironmentID)
        let key = issued.key.base64EncodedString()
        let wrapped = Base64.encode(issued.encryptedKeys)
        // A dumped byte array shows one element a line: the labels show whether it is there.
        Self.expectRedacted(issued, hiding: [key, wrapped, "encryptedKeys", "elements"])
        Self.expectRedacted(issued.response, hiding: [key, wrapped])
        Self.expectRedacted(vault, hiding: [rootKey, key])
        Self.expectRedacted(
            ResolvedDataKey(id: issued.id, key: issued.key, encryptedKeys: issued.encryptedKeys),
            hiding: [key, wrapped, "encryptedKeys", "elements"]
        )
        Self.expectRedacted(
            Vault.EncryptItem(Self.secretValue, context: ["k": "v"], associatedData: "aad"),
            hiding: [Self.secretValue]
        )
        Self.expectRedacted(Vault.DecryptItem(wrapped, associatedData: "aad"), hiding: [wrapped])
        Self.expectRedacted(
            APIKeyRing.Entry("environment_a:sk_test_secret_api_key", origin: "test"),
            hiding: ["sk_test_secret_api_key"]
        )
        let body = Array(#"{"data_key":"\#(key)"}"#.utf8)
        Self.expectRedacted(
            LocalVault.IdempotencyClaim.replay(status: 200, body: body),
            hiding: [key, "elements"]
        )
    }
}
