import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultAPI

@testable import LocalVaultServer

@Suite("GET /events")
struct EventRouteTests {
    static let vaultTypes = VaultEventType.allCases.map(\.rawValue).joined(separator: ",")

    @Test("lists the caller's events as the Events API: object, list_metadata, newest first, filters")
    func listsEvents() async throws {
        try await VaultHarness.run(recordsEvents: true) { _, client in
            let first = try await client.createObject(name: "a", context: ["organization_id": "org_1"])
            _ = try await client.createObject(name: "b", context: ["organization_id": "org_2"])
            try await client.send(.get, "/vault/v1/kv/\(first.id)")
            _ = try await client.createObject(name: "c", context: ["organization_id": "org_1"], key: TestKeys.staging)

            let response = try await client.send(.get, "/events?events=vault.data.created,vault.data.read")
            #expect(response.status == .ok)
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
            )
            #expect(json["object"] as? String == "list")
            let metadata = try #require(json["list_metadata"] as? [String: Any])
            #expect(metadata.keys.sorted() == ["after", "before"])
            let page = try response.decode(EventList.self)
            #expect(page.data.map(\.event) == [.dataRead, .dataCreated, .dataCreated])
            #expect(page.data.allSatisfy { $0.object == "event" && $0.data.actorSource == "api" })
            #expect(page.data[0].data.kvName == "a")
            #expect(page.data[0].data.keyID == first.keyID)

            let ofOrganization = try await client.sendExpecting(
                EventList.self,
                .get,
                "/events?events=vault.data.created&organization_id=org_1"
            )
            #expect(ofOrganization.data.map(\.data.kvName) == ["a"])

            // Environments are apart: the staging key sees its own events only.
            let staging = try await client.sendExpecting(
                EventList.self,
                .get,
                "/events?events=\(Self.vaultTypes)",
                key: TestKeys.staging
            )
            #expect(staging.data.map(\.event) == [.dataCreated, .kekCreated])
            #expect(staging.data.first?.data.kvName == "c")

            // range_end before everything: nothing; range_start in the future: nothing.
            for range in ["range_end=2000-01-01T00:00:00Z", "range_start=2999-01-01T00:00:00.000000%2B00:00"] {
                let empty = try await client.sendExpecting(
                    EventList.self,
                    .get,
                    "/events?events=\(Self.vaultTypes)&\(range)"
                )
                #expect(empty.data.isEmpty)
            }
        }
    }

    @Test("an Idempotency-Key replay of a data key or a rekey records its access again")
    func replayedDataKeysAreRecorded() async throws {
        try await VaultHarness.run(recordsEvents: true) { _, client in
            let issuedHeaders: HTTPFields = [HeaderName("Idempotency-Key")!: "issue-once"]
            let request = #"{"context":{"organization_id":"org_replay"}}"#
            var issued: [DataKeyResponse] = []
            for _ in 0..<2 {
                let response = try await client.send(
                    .post,
                    "/vault/v1/keys/data-key",
                    json: request,
                    headers: issuedHeaders
                )
                issued.append(try response.decode(DataKeyResponse.self))
            }
            #expect(issued[0] == issued[1])
            let rekeyHeaders: HTTPFields = [HeaderName("Idempotency-Key")!: "rekey-once"]
            let rekey = #"{"context":{"organization_id":"org_other"},"encrypted_keys":"\#(issued[0].encryptedKeys)"}"#
            for _ in 0..<2 {
                #expect(
                    try await client.send(.post, "/vault/v1/keys/rekey", json: rekey, headers: rekeyHeaders).status
                        == .ok
                )
            }

            let read = try await client.sendExpecting(EventList.self, .get, "/events?events=vault.dek.read&order=asc")
            #expect(read.data.map(\.data.keyIDs) == [[issued[0].id], [issued[0].id]])
            #expect(read.data.allSatisfy { $0.data.keyContext == ["organization_id": "org_replay"] })
            let rekeyed = try await client.sendExpecting(EventList.self, .get, "/events?events=vault.dek.rekeyed")
            #expect(rekeyed.data.map(\.data.keyIDs) == [[issued[0].id], [issued[0].id]])
            #expect(rekeyed.data.allSatisfy { $0.data.keyContext == ["organization_id": "org_other"] })
        }
    }

    @Test("pages with limit, after and before, in both orders")
    func pagination() async throws {
        try await VaultHarness.run(recordsEvents: true) { _, client in
            for _ in 0..<7 {
                try await client.send(.post, "/vault/v1/keys/data-key", json: #"{"context":{"k":"v"}}"#)
            }
            var ids: [String] = []
            var after: String?
            repeat {
                let cursor = after.map { "&after=\($0)" } ?? ""
                let page = try await client.sendExpecting(
                    EventList.self,
                    .get,
                    "/events?events=vault.dek.read&limit=3&order=asc\(cursor)"
                )
                ids += page.data.map(\.id)
                after = page.listMetadata.after
            } while after != nil && ids.count < 20
            #expect(ids.count == 7)
            let newestFirst = try await client.sendExpecting(EventList.self, .get, "/events?events=vault.dek.read")
            #expect(newestFirst.data.map(\.id) == ids.reversed())
            let back = try await client.sendExpecting(
                EventList.self,
                .get,
                "/events?events=vault.dek.read&limit=2&order=asc&before=\(ids[4])"
            )
            #expect(back.data.map(\.id) == [ids[2], ids[3]])
        }
    }

    @Test(
        "bad parameters are 422, a missing key 401",
        arguments: [
            "/events", "/events?events=", "/events?events=dsync.user.created", "/events?events=vault.data.read&limit=0",
            "/events?events=vault.data.read&limit=101", "/events?events=vault.data.read&order=up",
            "/events?events=vault.data.read&range_start=yesterday", "/events?events=vault.data.read&after=event_nope",
        ]
    )
    func badParameters(uri: String) async throws {
        try await VaultHarness.run(recordsEvents: true) { _, client in
            let response = try await client.send(.get, uri)
            #expect(response.status == .unprocessableContent)
            #expect(try response.errorBody().code == "unprocessable_entity")
            let anonymous = try await client.send(.get, "/events?events=vault.data.read", key: nil)
            #expect(anonymous.status == .unauthorized)
        }
    }
}
