import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultAPI

@testable import LocalVaultServer

@Suite("Object endpoints")
struct ObjectRouteTests {
    @Test("create, read, read by name, describe, update, versions, delete")
    func lifecycle() async throws {
        try await VaultHarness.run { harness, client in
            let created = try await client.createObject(name: "db-password", value: "hunter2")
            #expect(created.environmentID == "environment_local")
            #expect(created.context == ["organization_id": "org_test"])
            #expect(created.updatedBy.name == "sk_…0001")
            #expect(created.updatedBy.id.hasPrefix("key_") && created.updatedBy.id.count == 28)
            let firstVersion = try #require(created.versionID)

            let read = try await client.sendExpecting(VaultObject.self, .get, "/vault/v1/kv/\(created.id)")
            #expect(read.name == "db-password" && read.value == "hunter2" && read.metadata == created)

            let byName = try await client.sendExpecting(VaultObject.self, .get, "/vault/v1/kv/name/db-password")
            #expect(byName == read)

            let described = try await client.sendExpecting(
                ObjectWithoutValue.self,
                .get,
                "/vault/v1/kv/\(created.id)/metadata"
            )
            #expect(described.name == "db-password" && described.metadata == created)

            // Without version_check: last write wins.
            let updated = try await client.sendExpecting(
                ObjectWithoutValue.self,
                status: .created,
                .put,
                "/vault/v1/kv/\(created.id)",
                json: #"{"value": "hunter3"}"#
            )
            let secondVersion = try #require(updated.metadata.versionID)
            #expect(secondVersion != firstVersion)

            // With the current version: accepted.
            let checked = try await client.sendExpecting(
                ObjectWithoutValue.self,
                status: .created,
                .put,
                "/vault/v1/kv/\(created.id)",
                json: #"{"value": "hunter4", "version_check": "\#(secondVersion)"}"#
            )
            // With a stale version: 409.
            let stale = try await client.send(
                .put,
                "/vault/v1/kv/\(created.id)",
                json: #"{"value": "hunter5", "version_check": "\#(firstVersion)"}"#
            )
            #expect(stale.status == .conflict)
            #expect(try stale.errorBody().code == "conflict")
            #expect(!stale.text.contains("hunter5"))

            let value = try await client.sendExpecting(VaultObject.self, .get, "/vault/v1/kv/\(created.id)").value
            #expect(value == "hunter4")

            let versions = try await client.sendExpecting(
                ListResponse<ObjectVersion>.self,
                .get,
                "/vault/v1/kv/\(created.id)/versions"
            )
            #expect(versions.data.count == 3)
            #expect(versions.data.filter(\.currentVersion).map(\.id) == [checked.metadata.versionID])
            #expect(versions.data.map(\.size) == [7, 7, 7])

            let staleDelete = try await client.send(.delete, "/vault/v1/kv/\(created.id)?version_check=\(firstVersion)")
            #expect(staleDelete.status == .conflict)

            let deleted = try await client.sendExpecting(
                DeleteObjectResponse.self,
                .delete,
                "/vault/v1/kv/\(created.id)?version_check=\(try #require(checked.metadata.versionID))"
            )
            #expect(deleted == DeleteObjectResponse(success: true, name: "db-password"))

            for path in ["", "/metadata", "/versions"] {
                let gone = try await client.send(.get, "/vault/v1/kv/\(created.id)\(path)")
                #expect(gone.status == .notFound)
                #expect(try gone.errorBody().code == "not_found")
            }
            #expect(try await client.send(.get, "/vault/v1/kv/name/db-password").status == .notFound)
            #expect(try await client.send(.delete, "/vault/v1/kv/\(created.id)").status == .notFound)
            #expect(
                try await client.send(.put, "/vault/v1/kv/\(created.id)", json: #"{"value": "x"}"#).status == .notFound
            )

            // The name is held until the purge, which frees it.
            let heldBody = #"{"name": "db-password", "value": "fresh", "key_context": {"organization_id": "org_1"}}"#
            let held = try await client.send(.post, "/vault/v1/kv", json: heldBody)
            #expect(held.status == .conflict)
            #expect(try held.errorBody().code == "conflict")
            #expect(held.text.contains("held by a deleted object until it is purged, at 20"))
            #expect(!held.text.contains("fresh"))
            #expect(try await harness.vault.purgeDueObjects(now: Date().addingTimeInterval(301)) == 1)
            let reused = try await client.createObject(name: "db-password", value: "fresh")
            #expect(reused.id != created.id)
        }
    }

    @Test("a name in use is 409 and the response does not echo it")
    func duplicateName() async throws {
        try await VaultHarness.run { _, client in
            _ = try await client.createObject(name: "customer-secret-name")
            let body = try jsonString(
                CreateObjectRequest(name: "customer-secret-name", value: "v", keyContext: ["a": "b"])
            )
            let response = try await client.send(.post, "/vault/v1/kv", json: body)
            #expect(response.status == .conflict)
            #expect(!response.text.contains("customer-secret-name"))
        }
    }

    @Test(
        "names with reserved characters round-trip through percent-encoded path segments",
        arguments: ["folder/secret", "a b+c%d?e#f", "../escape", "ünïcödé/名前", "trailing/"]
    )
    func percentEncodedNames(name: String) async throws {
        try await VaultHarness.run { _, client in
            let created = try await client.createObject(name: name, value: "v")
            let read = try await client.sendExpecting(
                VaultObject.self,
                .get,
                "/vault/v1/kv/name/\(encodeSegment(name))"
            )
            #expect(read.id == created.id && read.name == name)
        }
    }

    @Test("a bad percent escape in a path segment is 400")
    func badPercentEscape() async throws {
        try await VaultHarness.run { _, client in
            let response = try await client.send(.get, "/vault/v1/kv/name/bad%zzescape")
            #expect(response.status == .badRequest)
            #expect(!response.text.contains("bad%zz"))
        }
    }

    @Test(
        "invalid create bodies",
        arguments: [
            (#"{"name": "n", "value": "v", "key_context": {"org": 7}}"#, 422, "must be a string"),
            (#"{"name": 5, "value": "v", "key_context": {"a": "b"}}"#, 422, "field 'name' must be a string"),
            (#"{"name": "n", "key_context": {"a": "b"}}"#, 422, "field 'value' is required"),
            (#"{"name": "n", "value": null, "key_context": {"a": "b"}}"#, 422, "field 'value'"),
            (#"{"name": "", "value": "v", "key_context": {"a": "b"}}"#, 422, "1 to 200 characters"),
            (#"{"name": "n", "value": "v", "key_context": {"a": "b"}"#, 400, "not valid JSON"),
        ]
    )
    func invalidCreate(body: String, status: Int, fragment: String) async throws {
        try await VaultHarness.run { _, client in
            let response = try await client.send(.post, "/vault/v1/kv", json: body)
            #expect(response.status.code == status)
            #expect(try response.errorBody().error?.contains(fragment) == true, "\(response.text)")
        }
    }

    @Test("a name longer than 200 characters is 422")
    func longName() async throws {
        try await VaultHarness.run { _, client in
            let body = try jsonString(
                CreateObjectRequest(name: String(repeating: "n", count: 201), value: "v", keyContext: ["a": "b"])
            )
            #expect(try await client.send(.post, "/vault/v1/kv", json: body).status == .unprocessableContent)
        }
    }

    @Test("objects of one environment are invisible to another")
    func environmentIsolation() async throws {
        try await VaultHarness.run { _, client in
            let created = try await client.createObject(name: "shared-name")
            #expect(
                try await client.send(.get, "/vault/v1/kv/\(created.id)", key: TestKeys.staging).status == .notFound
            )
            #expect(
                try await client.send(.get, "/vault/v1/kv/name/shared-name", key: TestKeys.staging).status == .notFound
            )
            let list = try await client.sendExpecting(
                ListResponse<ObjectSummary>.self,
                .get,
                "/vault/v1/kv",
                key: TestKeys.staging
            )
            #expect(list.data.isEmpty)
            // The same name is free in the other environment.
            let other = try await client.createObject(name: "shared-name", key: TestKeys.staging)
            #expect(other.environmentID == "environment_staging")
            // Another key of the same environment sees the object, and is recorded as the writer.
            let updated = try await client.sendExpecting(
                ObjectWithoutValue.self,
                status: .created,
                .put,
                "/vault/v1/kv/\(created.id)",
                json: #"{"value": "new"}"#,
                key: TestKeys.secondary
            )
            #expect(updated.metadata.updatedBy.name == "sk_…0002")
        }
    }

    @Test("unknown routes and methods are 404 with the error body")
    func unknownRoutes() async throws {
        try await VaultHarness.run { _, client in
            for (method, path) in [
                (HTTPRequest.Method.get, "/vault/v1/nothing"), (.get, "/"), (.patch, "/vault/v1/kv"),
                (.get, "/vault/v2/kv"), (.post, "/vault/v1/kv/some-id/metadata"),
            ] {
                let response = try await client.send(method, path)
                #expect(response.status == .notFound, "\(method) \(path)")
                #expect(try response.errorBody().code == "not_found")
            }
        }
    }
}
