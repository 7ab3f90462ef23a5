import Foundation
import LocalVault
import Testing
import VaultAPI

@testable import WorkOSVault

/// The client's `context:` parameter: against `vault serve`, the embedded store, and a server
/// that ignores `key_context` (as the WorkOS API does), an object of another context is not found.
@Suite(.timeLimit(.minutes(2)))
struct ContextClientTests {
    static let context: KeyContext = ["organization_id": "org_1", "region": "eu"]
    static let mismatches: [KeyContext] = [
        ["organization_id": "org_2", "region": "eu"],  // wrong value
        ["organization_id": "org_1", "region": "eu", "env": "prod"],  // extra pair
        ["organization_id": "org_1"],  // missing pair
        ["organization_id ": "org_1", "region": "eu"],  // different spacing in a key
    ]

    /// Every object call under `other` must be not found; under the object's own context, found.
    static func checkEveryCall(_ vault: Vault) async throws {
        let created = try await vault.createObject(name: "db-password", value: "hunter2", context: Self.context)
        _ = try await vault.createObject(name: "elsewhere", value: "v", context: ["organization_id": "org_2"])
        for other in Self.mismatches {
            let calls: [@Sendable () async throws -> Void] = [
                { _ = try await vault.readObject(id: created.id, context: other) },
                { _ = try await vault.readObject(named: "db-password", context: other) },
                { _ = try await vault.describeObject(id: created.id, context: other) },
                { _ = try await vault.listVersions(id: created.id, context: other) },
                { _ = try await vault.updateObject(id: created.id, value: "lost", context: other) },
                { _ = try await vault.deleteObject(id: created.id, context: other) },
            ]
            for call in calls {
                let error = await #expect(throws: VaultError.self) { try await call() }
                #expect(error?.code == .notFound)
                #expect(error?.message.contains("hunter2") == false)
            }
            #expect(
                try await vault.listObjects(ListObjectsQuery(keyContext: other)).data.allSatisfy {
                    $0.name != "db-password"
                }
            )
        }
        #expect(try await vault.readObject(named: "db-password", context: Self.context).value == "hunter2")
        _ = try await vault.updateObject(id: created.id, value: "hunter3", context: Self.context)
        #expect(try await vault.listVersions(id: created.id, context: Self.context).count == 2)
        #expect(try await vault.describeObject(id: created.id, context: Self.context).name == "db-password")
        let listed = try await vault.listObjects(ListObjectsQuery(keyContext: Self.context))
        #expect(listed.data.map(\.name) == ["db-password"])
        _ = try await vault.deleteObject(id: created.id, context: Self.context)
        let gone = await #expect(throws: VaultError.self) { _ = try await vault.readObject(id: created.id) }
        #expect(gone?.code == .notFound)
    }

    @Test func againstVaultServe() async throws {
        try await LiveServer.run { live in try await Self.checkEveryCall(live.vault) }
    }

    @Test func againstTheEmbeddedStore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vault-ctx-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let engine = try LocalVault(configuration: LocalVaultConfiguration(dataDirectory: directory))
        let vault = Vault(resolver: EmbeddedKEKResolver(vault: engine), objects: EmbeddedObjectService(vault: engine))
        try await Self.checkEveryCall(vault)
    }

    @Test func anInvalidContextFailsBeforeAnyRequest() async throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        let vault = try RetryTests.vault(server)
        let error = await #expect(throws: VaultError.self) { _ = try await vault.readObject(id: "x", context: [:]) }
        #expect(error?.code == .invalidKeyContext)
        #expect(server.requests.isEmpty)
    }

    // MARK: A server that ignores key_context

    static func objectBody(context: String) -> String {
        #"{"id":"obj_1","name":"db-password","value":"hunter2","metadata":{"id":"obj_1","environment_id":"env","#
            + #""key_id":"dk_1","updated_at":"2026-11-29T10:00:00.000Z","updated_by":{"id":"k","name":"n"},"#
            + #""context":\#(context),"version_id":"v_1"}}"#
    }

    static func summary(_ id: String) -> String {
        #"{"id":"\#(id)","name":"\#(id)","updated_at":"2026-11-29T10:00:00.000Z"}"#
    }

    @Test func aReadOfAnotherContextIsDiscardedAsNotFound() async throws {
        let server = try ScriptedHTTPServer(script: [
            .respond(status: 200, body: Self.objectBody(context: #"{"organization_id":"org_2","region":"eu"}"#)),
            .respond(status: 200, body: Self.objectBody(context: #"{"organization_id":"org_1","region":"eu"}"#)),
        ])
        defer { server.stop() }
        let vault = try RetryTests.vault(server)
        let error = await #expect(throws: VaultError.self) {
            _ = try await vault.readObject(named: "db-password", context: Self.context)
        }
        #expect(error?.code == .notFound)
        #expect(error?.httpStatus == 404)
        #expect(try await vault.readObject(named: "db-password", context: Self.context).value == "hunter2")
        let paths = server.requests.map(\.path)
        #expect(paths.count == 2)
        #expect(paths.allSatisfy { $0.contains("key_context=%7B%22organization_id%22%3A%22org_1%22%2C%22region%22") })
    }

    @Test func anUpdateOfAnotherContextIsNeverSent() async throws {
        let metadataBody =
            #"{"id":"obj_1","name":"db-password","metadata":"#
            + #"{"id":"obj_1","environment_id":"env","key_id":"dk_1","updated_at":"2026-11-29T10:00:00.000Z","#
            + #""updated_by":{"id":"k","name":"n"},"context":{"organization_id":"org_2"},"version_id":"v_1"}}"#
        let server = try ScriptedHTTPServer(script: [.respond(status: 200, body: metadataBody)])
        defer { server.stop() }
        let vault = try RetryTests.vault(server)
        let error = await #expect(throws: VaultError.self) {
            _ = try await vault.updateObject(id: "obj_1", value: "lost", context: ["organization_id": "org_1"])
        }
        #expect(error?.code == .notFound)
        #expect(server.requests.map(\.method) == ["GET"])
    }

    @Test func aListTheServerDidNotFilterIsFilteredByTheClient() async throws {
        let page =
            #"{"data":[\#(Self.summary("obj_1")),\#(Self.summary("obj_2"))],"#
            + #""list_metadata":{"before":null,"after":"obj_2"}}"#
        let server = try ScriptedHTTPServer(script: [
            .respond(status: 200, body: page),
            .respond(status: 200, body: Self.objectBody(context: #"{"organization_id":"org_2","region":"eu"}"#)),
            .respond(status: 200, body: Self.objectBody(context: #"{"organization_id":"org_1","region":"eu"}"#)),
        ])
        defer { server.stop() }
        let vault = try RetryTests.vault(server)
        let listed = try await vault.listObjects(ListObjectsQuery(keyContext: Self.context))
        #expect(listed.data.map(\.id) == ["obj_2"])
        #expect(listed.listMetadata.after == "obj_2")
        #expect(server.requests.count == 3)
    }
}
