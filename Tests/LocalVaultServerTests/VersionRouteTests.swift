import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultAPI

@testable import LocalVaultServer

/// Version numbers over HTTP: `version` in metadata and in each entry of `/versions`,
/// `GET /kv/{id}/versions/{version}`, and `expected_version` in the PUT body.
@Suite("Version routes")
struct VersionRouteTests {
    @Test("metadata and versions carry numbers, and any version reads back as it was")
    func numbersAndOldVersions() async throws {
        try await VaultHarness.run { _, client in
            let created = try await client.createObject(name: "db-password", value: "hunter2")
            #expect(created.version == 1)
            let raw = try await client.send(.get, "/vault/v1/kv/\(created.id)/metadata")
            #expect(raw.text.contains(#""version":1"#))
            let updated = try await client.sendExpecting(
                ObjectWithoutValue.self,
                status: .created,
                .put,
                "/vault/v1/kv/\(created.id)",
                json: #"{"value": "hunter3"}"#,
                key: TestKeys.secondary
            )
            #expect(updated.metadata.version == 2)
            let versions = try await client.sendExpecting(
                ListResponse<ObjectVersion>.self,
                .get,
                "/vault/v1/kv/\(created.id)/versions"
            )
            #expect(versions.data.map(\.version) == [2, 1])
            let listed = try await client.send(.get, "/vault/v1/kv/\(created.id)/versions")
            #expect(listed.text.contains(#""version":2"#) && listed.text.contains(#""version":1"#))

            let firstID = try #require(created.versionID)
            for segment in ["1", firstID] {
                let old = try await client.sendExpecting(
                    VaultObject.self,
                    .get,
                    "/vault/v1/kv/\(created.id)/versions/\(segment)"
                )
                #expect(old.value == "hunter2")
                #expect(old.metadata == created)
            }
            let current = try await client.sendExpecting(
                VaultObject.self,
                .get,
                "/vault/v1/kv/\(created.id)/versions/2"
            )
            #expect(current.value == "hunter3")
            #expect(current.metadata.updatedBy.name == "sk_…0002")
            #expect(current.metadata == updated.metadata)

            for segment in ["3", "0", "99999999999999999999999", "not-a-version"] {
                let missing = try await client.send(.get, "/vault/v1/kv/\(created.id)/versions/\(segment)")
                #expect(missing.status == .notFound, "\(segment)")
            }
            let query = "key_context=" + encodeSegment(#"{"organization_id":"org_other"}"#)
            let otherContext = try await client.send(.get, "/vault/v1/kv/\(created.id)/versions/1?\(query)")
            #expect(otherContext.status == .notFound)
            #expect(!otherContext.text.contains("hunter2"))
            let sameContext = "key_context=" + encodeSegment(#"{"organization_id":"org_test"}"#)
            let found = try await client.send(.get, "/vault/v1/kv/\(created.id)/versions/1?\(sameContext)")
            #expect(found.status == .ok)
        }
    }

    @Test("expected_version makes an update conditional, with the same 409 as version_check")
    func expectedVersion() async throws {
        try await VaultHarness.run { _, client in
            let created = try await client.createObject(name: "db-password", value: "hunter2")
            let updated = try await client.sendExpecting(
                ObjectWithoutValue.self,
                status: .created,
                .put,
                "/vault/v1/kv/\(created.id)",
                json: #"{"value": "hunter3", "expected_version": 1}"#
            )
            #expect(updated.metadata.version == 2)
            let stale = try await client.send(
                .put,
                "/vault/v1/kv/\(created.id)",
                json: #"{"value": "lost", "expected_version": 1}"#
            )
            #expect(stale.status == .conflict)
            #expect(try stale.errorBody().code == "conflict")
            let staleCheck = try await client.send(
                .put,
                "/vault/v1/kv/\(created.id)",
                json: #"{"value": "lost", "version_check": "\#(try #require(created.versionID))"}"#
            )
            #expect(staleCheck.status == stale.status)
            #expect(try staleCheck.errorBody().code == stale.errorBody().code)
            let wrongType = try await client.send(
                .put,
                "/vault/v1/kv/\(created.id)",
                json: #"{"value": "lost", "expected_version": "2"}"#
            )
            #expect(wrongType.status == .unprocessableContent)
            #expect(try wrongType.errorBody().error?.contains("expected_version") == true)
            let value = try await client.sendExpecting(VaultObject.self, .get, "/vault/v1/kv/\(created.id)").value
            #expect(value == "hunter3")
        }
    }
}
