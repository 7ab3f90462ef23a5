import Foundation
import LocalVault
import Testing
import VaultAPI

@testable import WorkOSVault

/// Version numbers through the client: against `vault serve`, the embedded store, and a server
/// that does not send them (the WorkOS API).
@Suite(.timeLimit(.minutes(2)))
struct VersionClientTests {
    static func checkVersions(_ vault: Vault) async throws {
        let context: KeyContext = ["organization_id": "org_1"]
        let created = try await vault.createObject(name: "db-password", value: "one", context: context)
        #expect(created.version == 1)
        let second = try await vault.updateObject(id: created.id, value: "two", expectedVersion: 1, context: context)
        #expect(second.metadata.version == 2)
        let stale = await #expect(throws: VaultError.self) {
            _ = try await vault.updateObject(id: created.id, value: "lost", expectedVersion: 1)
        }
        #expect(stale?.code == .versionConflict)
        #expect(try await vault.readObject(id: created.id, version: 1).value == "one")
        #expect(try await vault.readObject(id: created.id, version: 2, context: context).value == "two")
        let byID = try await vault.readObject(id: created.id, versionID: try #require(created.versionID))
        #expect(byID.value == "one")
        #expect(byID.metadata.version == 1)
        #expect(try await vault.listVersions(id: created.id).map(\.version) == [2, 1])
        let missing = await #expect(throws: VaultError.self) {
            _ = try await vault.readObject(id: created.id, version: 3)
        }
        #expect(missing?.code == .notFound)
        let otherContext = await #expect(throws: VaultError.self) {
            _ = try await vault.readObject(id: created.id, version: 1, context: ["organization_id": "org_2"])
        }
        #expect(otherContext?.code == .notFound)
    }

    @Test func againstVaultServe() async throws {
        try await LiveServer.run { live in try await Self.checkVersions(live.vault) }
    }

    @Test func againstTheEmbeddedStore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vault-ver-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let engine = try LocalVault(configuration: LocalVaultConfiguration(dataDirectory: directory))
        let vault = Vault(resolver: EmbeddedKEKResolver(vault: engine), objects: EmbeddedObjectService(vault: engine))
        try await Self.checkVersions(vault)
    }

    /// What the WorkOS API sends: no `version` anywhere.
    static let metadataWithoutVersion =
        #"{"id":"obj_1","name":"n","metadata":{"id":"obj_1","environment_id":"env","#
        + #""key_id":"dk_1","updated_at":"2026-11-29T10:00:00.000Z","updated_by":{"id":"k","name":"n"},"#
        + #""context":{"organization_id":"org_1"},"version_id":"v_1"}}"#

    @Test func responsesWithoutVersionNumbersStillDecode() async throws {
        let versions =
            #"{"data":[{"id":"v_1","created_at":"2026-11-29T10:00:00.000Z","current_version":true,"#
            + #""size":3,"etag":"e"}],"list_metadata":{"before":null,"after":null}}"#
        let server = try ScriptedHTTPServer(script: [
            .respond(status: 200, body: Self.metadataWithoutVersion), .respond(status: 200, body: versions),
        ])
        defer { server.stop() }
        let vault = try RetryTests.vault(server)
        let described = try await vault.describeObject(id: "obj_1")
        #expect(described.metadata.version == nil)
        #expect(described.metadata.versionID == "v_1")
        let listed = try await vault.listVersions(id: "obj_1")
        #expect(listed.map(\.version) == [nil])
    }

    @Test func anExpectedVersionAgainstAServerWithoutNumbersFailsBeforeWriting() async throws {
        let server = try ScriptedHTTPServer(script: [.respond(status: 200, body: Self.metadataWithoutVersion)])
        defer { server.stop() }
        let vault = try RetryTests.vault(server)
        let error = await #expect(throws: VaultError.self) {
            _ = try await vault.updateObject(id: "obj_1", value: "v", expectedVersion: 1)
        }
        #expect(error?.code == .badRequest)
        #expect(server.requests.map(\.method) == ["GET"])
    }

    @Test func anExpectedVersionIsSentAsTheVersionIdItNames() async throws {
        let withVersion = Self.metadataWithoutVersion.replacingOccurrences(
            of: #""version_id":"v_1"}"#,
            with: #""version_id":"v_1","version":4}"#
        )
        let updated = withVersion.replacingOccurrences(of: #""version":4"#, with: #""version":5"#)
        let server = try ScriptedHTTPServer(script: [
            .respond(status: 200, body: withVersion), .respond(status: 201, body: updated),
            .respond(status: 200, body: withVersion),
        ])
        defer { server.stop() }
        let vault = try RetryTests.vault(server)
        let result = try await vault.updateObject(id: "obj_1", value: "v", expectedVersion: 4)
        #expect(result.metadata.version == 5)
        let put = try #require(server.requests.last)
        #expect(put.method == "PUT")
        #expect(put.body.contains(#""version_check":"v_1""#))
        #expect(put.body.contains(#""expected_version":4"#))
        let stale = await #expect(throws: VaultError.self) {
            _ = try await vault.updateObject(id: "obj_1", value: "v", expectedVersion: 3)
        }
        #expect(stale?.code == .versionConflict)
        #expect(server.requests.count == 3)
    }
}
