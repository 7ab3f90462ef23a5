import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultAPI

@testable import LocalVaultServer

/// The `key_context` query parameter: an object is found only under exactly its own context.
@Suite("Context-bound object routes")
struct ContextRouteTests {
    static let context = ["organization_id": "org_1", "region": "eu"]

    /// `key_context=<percent-encoded JSON>`.
    static func query(_ json: String) -> String { "key_context=" + encodeSegment(json) }

    /// Contexts (as the JSON a client sends) that differ from ``context``.
    static let mismatches = [
        #"{"organization_id":"org_2","region":"eu"}"#,  // wrong value
        #"{"organization_id":"org_1","region":"eu","env":"prod"}"#,  // extra pair
        #"{"organization_id":"org_1"}"#,  // missing pair
        #"{"organization_id ":"org_1","region":"eu"}"#,  // different spacing in a key
        #"{"organization_id":"org_1","region":"e\u0075 "}"#,  // different spacing in a value
    ]

    @Test("the exact context, in any key order and JSON spacing, finds the object on every route")
    func exactContext() async throws {
        try await VaultHarness.run { _, client in
            let created = try await client.createObject(name: "db-password", value: "hunter2", context: Self.context)
            _ = try await client.createObject(name: "other", context: ["organization_id": "org_2"])
            for json in [
                #"{"organization_id":"org_1","region":"eu"}"#, #"{ "region" : "eu", "organization_id":"org_1" }"#,
            ] {
                let query = Self.query(json)
                let read = try await client.sendExpecting(VaultObject.self, .get, "/vault/v1/kv/\(created.id)?\(query)")
                #expect(read.id == created.id)
                let byName = try await client.sendExpecting(
                    VaultObject.self,
                    .get,
                    "/vault/v1/kv/name/db-password?\(query)"
                )
                #expect(byName.id == created.id)
                _ = try await client.sendExpecting(
                    ObjectWithoutValue.self,
                    .get,
                    "/vault/v1/kv/\(created.id)/metadata?\(query)"
                )
                _ = try await client.sendExpecting(
                    ListResponse<ObjectVersion>.self,
                    .get,
                    "/vault/v1/kv/\(created.id)/versions?\(query)"
                )
                _ = try await client.sendExpecting(
                    ObjectWithoutValue.self,
                    status: .created,
                    .put,
                    "/vault/v1/kv/\(created.id)?\(query)",
                    json: #"{"value": "hunter3"}"#
                )
                let list = try await client.send(.get, "/vault/v1/kv?\(query)")
                #expect(list.status == .ok)
                #expect(list.headers[KeyContextQuery.appliedHeader] == "exact")
                #expect(try list.decode(ListResponse<ObjectSummary>.self).data.map(\.id) == [created.id])
            }
            // Without the parameter the list says nothing about a filter.
            #expect(try await client.send(.get, "/vault/v1/kv").headers[KeyContextQuery.appliedHeader] == nil)
            let deleted = try await client.sendExpecting(
                DeleteObjectResponse.self,
                .delete,
                "/vault/v1/kv/\(created.id)?\(Self.query(#"{"region":"eu","organization_id":"org_1"}"#))"
            )
            #expect(deleted.name == "db-password")
        }
    }

    @Test("a mismatched context is the same 404 as a missing object", arguments: mismatches)
    func mismatch(json: String) async throws {
        try await VaultHarness.run { _, client in
            let created = try await client.createObject(name: "db-password", value: "hunter2", context: Self.context)
            let query = Self.query(json)
            let missing = try await client.send(.get, "/vault/v1/kv/00000000-0000-0000-0000-000000000000")
            for (method, path, body) in [
                (HTTPRequest.Method.get, "/vault/v1/kv/\(created.id)", nil),
                (.get, "/vault/v1/kv/name/db-password", nil),
                (.get, "/vault/v1/kv/\(created.id)/metadata", nil),
                (.get, "/vault/v1/kv/\(created.id)/versions", nil),
                (.put, "/vault/v1/kv/\(created.id)", #"{"value": "lost"}"#),
                (
                    .put, "/vault/v1/kv/\(created.id)",
                    #"{"value": "lost", "version_check": "stale", "expected_version": 9}"#
                ),
                (.delete, "/vault/v1/kv/\(created.id)", nil),
                (.delete, "/vault/v1/kv/\(created.id)?version_check=stale", nil),
                (.get, "/vault/v1/kv/\(created.id)/versions/1", nil),
            ] as [(HTTPRequest.Method, String, String?)] {
                let separator = path.contains("?") ? "&" : "?"
                let response = try await client.send(method, path + separator + query, json: body)
                #expect(response.status == .notFound, "\(method) \(path)")
                #expect(response.text == missing.text, "\(method) \(path)")
                #expect(!response.text.contains("hunter2"))
            }
            let list = try await client.sendExpecting(ListResponse<ObjectSummary>.self, .get, "/vault/v1/kv?\(query)")
            #expect(list.data.isEmpty)
            // Nothing changed.
            let read = try await client.sendExpecting(VaultObject.self, .get, "/vault/v1/kv/\(created.id)")
            #expect(read.value == "hunter2")
        }
    }

    @Test(
        "a malformed key_context is 422 naming the rule, without quoting it",
        arguments: [
            ("not json", "key_context must be a percent-encoded JSON object"),
            (#"["org_secret"]"#, "key_context must be a percent-encoded JSON object"),
            (#""org_secret""#, "key_context must be a percent-encoded JSON object"),
            (#"{"org_secret":7}"#, "every value must be a string"),
            ("{}", "at least 1 pair"),
            (#"{"org_secret":""}"#, "each value must be 1 to"),
            (#"{"org_secret\u0000":"x"}"#, "keys must not contain"),
        ]
    )
    func malformed(json: String, fragment: String) async throws {
        try await VaultHarness.run { _, client in
            let created = try await client.createObject(name: "db-password")
            for path in ["/vault/v1/kv/\(created.id)", "/vault/v1/kv/name/db-password", "/vault/v1/kv"] {
                let response = try await client.send(.get, "\(path)?\(Self.query(json))")
                #expect(response.status == .unprocessableContent, "\(path)")
                let message = try response.errorBody().error ?? ""
                #expect(message.contains(fragment), "\(message)")
                #expect(message.contains("key_context"), "\(message)")
                #expect(!response.text.contains("org_secret"))
            }
        }
    }
}
