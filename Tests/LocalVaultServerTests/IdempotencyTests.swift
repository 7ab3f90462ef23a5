import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultAPI

@testable import LocalVaultServer

@Suite("Idempotency-Key")
struct IdempotencyTests {
    private static let key = HeaderName("Idempotency-Key")!

    @Test("a retry with the same key and body gets the first response and creates nothing new")
    func replay() async throws {
        try await VaultHarness.run { _, client in
            let body = try jsonString(CreateObjectRequest(name: "once", value: "v", keyContext: ["a": "b"]))
            let headers: HTTPFields = [Self.key: "9d1f2c4e-retry"]
            let first = try await client.send(.post, "/vault/v1/kv", json: body, headers: headers)
            let second = try await client.send(.post, "/vault/v1/kv", json: body, headers: headers)
            #expect(first.status == .created && second.status == .created)
            #expect(first.body == second.body)
            #expect(second.headers[HeaderName("Idempotent-Replayed")!] == "true")
            #expect(second.headers[.contentType] == "application/json")
            let list = try await client.sendExpecting(ListResponse<ObjectSummary>.self, .get, "/vault/v1/kv")
            #expect(list.data.map(\.name) == ["once"])

            // A data key is replayed too (the same key, not a new one).
            let dataKeyHeaders: HTTPFields = [Self.key: "data-key-retry"]
            let dataKeyBody = #"{"context": {"organization_id": "org_1"}}"#
            let key1 = try await client.send(
                .post,
                "/vault/v1/keys/data-key",
                json: dataKeyBody,
                headers: dataKeyHeaders
            )
            let key2 = try await client.send(
                .post,
                "/vault/v1/keys/data-key",
                json: dataKeyBody,
                headers: dataKeyHeaders
            )
            #expect(try key1.decode(DataKeyResponse.self) == key2.decode(DataKeyResponse.self))
        }
    }

    @Test("the same key with another body is 422; errors are replayed too")
    func mismatch() async throws {
        try await VaultHarness.run { _, client in
            let headers: HTTPFields = [Self.key: "reused-key"]
            let first = try jsonString(CreateObjectRequest(name: "first", value: "v", keyContext: ["a": "b"]))
            let other = try jsonString(CreateObjectRequest(name: "other", value: "v", keyContext: ["a": "b"]))
            #expect(try await client.send(.post, "/vault/v1/kv", json: first, headers: headers).status == .created)
            let reused = try await client.send(.post, "/vault/v1/kv", json: other, headers: headers)
            #expect(reused.status == .unprocessableContent)
            #expect(try reused.errorBody().code == "idempotency_key_reused")

            // A 4xx answer is the answer: replayed, not re-run.
            let invalidHeaders: HTTPFields = [Self.key: "invalid-request"]
            let invalid = #"{"name": "", "value": "v", "key_context": {"a": "b"}}"#
            let attempt1 = try await client.send(.post, "/vault/v1/kv", json: invalid, headers: invalidHeaders)
            let attempt2 = try await client.send(.post, "/vault/v1/kv", json: invalid, headers: invalidHeaders)
            #expect(attempt1.status == .unprocessableContent && attempt1.body == attempt2.body)

            // Keys are scoped per API key: another key may use the same Idempotency-Key.
            let byOtherKey = try await client.send(
                .post,
                "/vault/v1/kv",
                json: other,
                key: TestKeys.secondary,
                headers: headers
            )
            #expect(byOtherKey.status == .created)
        }
    }

    @Test("a retry while the first request is still running is 409")
    func inProgress() async throws {
        try await VaultHarness.run { harness, client in
            let body = #"{"context": {"organization_id": "org_1"}}"#
            let scope = try #require(harness.configuration.apiKeys.key(forSecret: TestKeys.primary)).id
            let hash = IdempotencyMiddleware.requestHash(
                method: "POST",
                path: "/vault/v1/keys/data-key",
                body: ByteBuffer(string: body)
            )
            // Claim the key as a request still running would have (key endpoints keep their
            // records in memory: they store nothing).
            #expect(
                try await harness.vault.claimIdempotencyKey(
                    scope: scope,
                    key: "busy",
                    requestHash: hash,
                    durable: false
                )
                    == .claimed
            )
            let response = try await client.send(
                .post,
                "/vault/v1/keys/data-key",
                json: body,
                headers: [Self.key: "busy"]
            )
            #expect(response.status == .conflict)
            #expect(try response.errorBody().code == "idempotency_key_in_use")
        }
    }

    @Test("keys/decrypt is answered afresh under any Idempotency-Key: nothing stored, nothing replayed")
    func decryptIsNotRecorded() async throws {
        try await VaultHarness.run { _, client in
            var issued: [DataKeyResponse] = []
            for organization in ["org_1", "org_2"] {
                issued.append(
                    try await client.sendExpecting(
                        DataKeyResponse.self,
                        .post,
                        "/vault/v1/keys/data-key",
                        json: #"{"context": {"organization_id": "\#(organization)"}}"#
                    )
                )
            }
            let headers: HTTPFields = [Self.key: "decrypt-key"]
            for dataKey in issued + issued {
                let response = try await client.send(
                    .post,
                    "/vault/v1/keys/decrypt",
                    json: #"{"keys": "\#(dataKey.encryptedKeys)"}"#,
                    headers: headers
                )
                #expect(response.status == .ok)
                #expect(response.headers[HeaderName("Idempotent-Replayed")!] == nil)
                #expect(try response.decode(DecryptDataKeyResponse.self).dataKey == dataKey.dataKey)
            }
            let long: HTTPFields = [Self.key: String(repeating: "k", count: 256)]
            let keys = #"{"keys": "\#(issued[0].encryptedKeys)"}"#
            let tooLong = try await client.send(.post, "/vault/v1/keys/decrypt", json: keys, headers: long)
            #expect(tooLong.status == .badRequest)
        }
    }

    @Test("an Idempotency-Key longer than 255 characters is 400; GET ignores the header")
    func keyRules() async throws {
        try await VaultHarness.run { _, client in
            let long: HTTPFields = [Self.key: String(repeating: "k", count: 256)]
            let body = #"{"context": {"organization_id": "org_1"}}"#
            let post = try await client.send(.post, "/vault/v1/keys/data-key", json: body, headers: long)
            #expect(post.status == .badRequest)
            let get = try await client.send(.get, "/vault/v1/kv", headers: long)
            #expect(get.status == .ok)
        }
    }
}
