import EnvelopeCrypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultAPI

@testable import LocalVaultServer

@Suite("Data-key endpoints")
struct DataKeyRouteTests {
    @Test("data-key, decrypt and rekey round trip")
    func roundTrip() async throws {
        try await VaultHarness.run { _, client in
            let issued = try await client.sendExpecting(
                DataKeyResponse.self,
                .post,
                "/vault/v1/keys/data-key",
                json: #"{"context": {"organization_id": "org_1"}, "unknown_field": [1, 2]}"#
            )
            #expect(try Base64.decode(issued.dataKey).count == 32)
            #expect(issued.context == ["organization_id": "org_1"])

            let decrypted = try await client.sendExpecting(
                DecryptDataKeyResponse.self,
                .post,
                "/vault/v1/keys/decrypt",
                json: try jsonString(DecryptDataKeyRequest(keys: issued.encryptedKeys))
            )
            #expect(decrypted.id == issued.id)
            #expect(decrypted.dataKey == issued.dataKey)

            let rekeyed = try await client.sendExpecting(
                DataKeyResponse.self,
                .post,
                "/vault/v1/keys/rekey",
                json: try jsonString(
                    RekeyRequest(context: ["organization_id": "org_2"], encryptedKeys: issued.encryptedKeys)
                )
            )
            #expect(rekeyed.id == issued.id)
            #expect(rekeyed.dataKey == issued.dataKey)
            #expect(rekeyed.encryptedKeys != issued.encryptedKeys)
            #expect(rekeyed.context == ["organization_id": "org_2"])

            let again = try await client.sendExpecting(
                DecryptDataKeyResponse.self,
                .post,
                "/vault/v1/keys/decrypt",
                json: try jsonString(DecryptDataKeyRequest(keys: rekeyed.encryptedKeys))
            )
            #expect(again.dataKey == issued.dataKey)
        }
    }

    @Test(
        "invalid bodies are 400 or 422 and never echo what was sent",
        arguments: [
            (#"{"context": {"organization_id": 42}}"#, 422, "must be a string"),
            (#"{"context": {}}"#, 422, "at least 1 pair"),
            (#"{"context": {"organization_id": ""}}"#, 422, "1 to 500 characters"),
            (#"{"context": {"org": "sensitive-value-123""#, 400, "not valid JSON"),
            ("not json at all", 400, "not valid JSON"),
            ("", 400, "empty"),
            (#"["context"]"#, 422, "JSON object"),
            (#"{"contexts": {"org": "sensitive-value-123"}}"#, 422, "field 'context' is required"),
            (#"{"context": "sensitive-value-123"}"#, 422, "field 'context'"),
        ]
    )
    func invalidDataKeyRequests(body: String, status: Int, fragment: String) async throws {
        try await VaultHarness.run { _, client in
            let response = try await client.send(.post, "/vault/v1/keys/data-key", json: body)
            #expect(response.status.code == status)
            let error = try response.errorBody()
            #expect(error.error?.contains(fragment) == true, "\(error.error ?? "")")
            #expect(!response.text.contains("sensitive-value-123"))
            #expect(!response.text.contains("42"))
        }
    }

    @Test("more than ten context pairs are refused with the rule")
    func tooManyPairs() async throws {
        try await VaultHarness.run { _, client in
            let context = KeyContext(Dictionary(uniqueKeysWithValues: (0..<11).map { ("k\($0)", "v\($0)") }))
            let response = try await client.send(
                .post,
                "/vault/v1/keys/data-key",
                json: try jsonString(CreateDataKeyRequest(context: context))
            )
            #expect(response.status == .unprocessableContent)
            #expect(try response.errorBody().error?.contains("at most 10") == true)
        }
    }

    @Test(
        "invalid base64 in keys or encrypted_keys is 400",
        arguments: [
            ("/vault/v1/keys/decrypt", #"{"keys": "not base64!"}"#, 400, "keys"),
            ("/vault/v1/keys/decrypt", #"{"keys": "QUJD"}"#, 400, "encrypted keys"),
            ("/vault/v1/keys/rekey", #"{"context": {"a": "b"}, "encrypted_keys": "@@@@"}"#, 400, "encrypted_keys"),
            ("/vault/v1/keys/decrypt", #"{"keys": 12}"#, 422, "field 'keys' must be a string"),
        ]
    )
    func invalidKeys(path: String, body: String, status: Int, fragment: String) async throws {
        try await VaultHarness.run { _, client in
            let response = try await client.send(.post, path, json: body)
            #expect(response.status.code == status)
            #expect(try response.errorBody().error?.contains(fragment) == true, "\(response.text)")
        }
    }

    @Test("keys issued in one environment do not open in another")
    func environmentsAreIsolated() async throws {
        try await VaultHarness.run { _, client in
            let issued = try await client.sendExpecting(
                DataKeyResponse.self,
                .post,
                "/vault/v1/keys/data-key",
                json: #"{"context": {"organization_id": "org_1"}}"#
            )
            let response = try await client.send(
                .post,
                "/vault/v1/keys/decrypt",
                json: try jsonString(DecryptDataKeyRequest(keys: issued.encryptedKeys)),
                key: TestKeys.staging
            )
            #expect(response.status == .badRequest)
            #expect(!response.text.contains(issued.dataKey))
        }
    }

    @Test("an oversized body is 413 before it is read")
    func oversizedBody() async throws {
        try await VaultHarness.run(maxBodySize: 1_024) { _, client in
            let big = #"{"context": {"a": "b"}, "padding": "\#(String(repeating: "x", count: 2_000))"}"#
            let response = try await client.send(.post, "/vault/v1/keys/data-key", json: big)
            #expect(response.status == .contentTooLarge)
            #expect(try response.errorBody().code == "payload_too_large")
        }
    }
}
