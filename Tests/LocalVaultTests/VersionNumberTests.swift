import Foundation
import GRDB
import Testing
import VaultAPI

@testable import LocalVault

/// Version numbers: 1 at creation, one more per update; any version can be read back with its
/// own metadata; an update can name the version it expects by number.
@Suite("Version numbers")
struct VersionNumberTests {
    static let env = LocalVault.defaultEnvironmentID
    static let bob = VaultCaller(environmentID: env, actor: VaultActor(id: "key_bob", name: "sk_…bob2"))

    @Test("versions are numbered from 1 and each reads back as it was", arguments: TestBackend.allCases)
    func numberedAndReadable(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let context: KeyContext = ["organization_id": "org_1"]
        let created = try await vault.createObject(name: "db", value: "one", context: context, caller: .alice)
        #expect(created.version == 1)
        try await Task.sleep(for: .milliseconds(5))
        let second = try await vault.updateObject(id: created.id, value: "two", versionCheck: nil, caller: Self.bob)
        #expect(second.metadata.version == 2)
        let third = try await vault.updateObject(id: created.id, value: "three", versionCheck: nil, caller: .alice)
        #expect(third.metadata.version == 3)
        #expect(try await vault.readObject(id: created.id, environmentID: Self.env).metadata.version == 3)

        let versions = try await vault.listVersions(id: created.id, environmentID: Self.env).data
        #expect(versions.map(\.version) == [3, 2, 1])
        #expect(versions.map(\.id) == [third.metadata.versionID, second.metadata.versionID, created.versionID])

        let first = try await vault.readObject(id: created.id, version: .number(1), environmentID: Self.env)
        #expect(first.value == "one")
        #expect(first.metadata == created)
        let middle = try await vault.readObject(id: created.id, version: .number(2), environmentID: Self.env)
        #expect(middle.value == "two")
        #expect(middle.metadata.updatedBy == Self.bob.actor)
        #expect(middle.metadata.versionID == second.metadata.versionID)
        #expect(middle.metadata.version == 2)
        #expect(middle.metadata.updatedAt == versions[1].createdAt)
        let byID = try await vault.readObject(
            id: created.id,
            version: .id(try #require(second.metadata.versionID)),
            environmentID: Self.env,
            context: context
        )
        #expect(byID == middle)

        for missing in [ObjectVersionSelector.number(0), .number(4), .id("nope"), .id("a\u{0}")] {
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await vault.readObject(id: created.id, version: missing, environmentID: Self.env)
            }
            #expect(error == LocalVaultError.objectNotFound)
        }
        let otherContext = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.readObject(
                id: created.id,
                version: .number(1),
                environmentID: Self.env,
                context: ["organization_id": "org_2"]
            )
        }
        #expect(otherContext == LocalVaultError.objectNotFound)
        let otherEnvironment = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.readObject(id: created.id, version: .number(1), environmentID: "environment_staging")
        }
        #expect(otherEnvironment == LocalVaultError.objectNotFound)
    }

    @Test("an update names the version it expects by number", arguments: TestBackend.allCases)
    func expectedVersion(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "db", value: "one", context: ["a": "1"], caller: .alice)
        let updated = try await vault.updateObject(
            id: created.id,
            value: "two",
            versionCheck: nil,
            expectedVersion: 1,
            caller: .alice
        )
        #expect(updated.metadata.version == 2)
        let stale = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.updateObject(
                id: created.id,
                value: "lost",
                versionCheck: nil,
                expectedVersion: 1,
                caller: .alice
            )
        }
        #expect(stale?.httpStatus == 409)
        #expect(stale?.rule == .versionCheck)
        #expect(stale?.message.contains("expected_version") == true)
        // Both checks given: both must hold.
        let mixed = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.updateObject(
                id: created.id,
                value: "lost",
                versionCheck: updated.metadata.versionID,
                expectedVersion: 1,
                caller: .alice
            )
        }
        #expect(mixed?.httpStatus == 409)
        #expect(try await vault.readObject(id: created.id, environmentID: Self.env).value == "two")
    }

    @Test("of concurrent updates expecting the same version number exactly one wins", arguments: TestBackend.allCases)
    func concurrentExpectedVersion(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "counter", value: "0", context: ["a": "1"], caller: .alice)
        let outcomes = await withTaskGroup(of: Int.self) { group in
            for writer in 0..<16 {
                group.addTask {
                    do {
                        _ = try await vault.updateObject(
                            id: created.id,
                            value: "\(writer)",
                            versionCheck: nil,
                            expectedVersion: 1,
                            caller: .alice
                        )
                        return 201
                    } catch let error as LocalVaultError {
                        return error.httpStatus
                    } catch {
                        return 0
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == 201 }.count == 1)
        #expect(outcomes.filter { $0 == 409 }.count == 15)
        let versions = try await vault.listVersions(id: created.id, environmentID: Self.env).data
        #expect(versions.map(\.version) == [2, 1])
    }

    @Test("concurrent updates without a check get distinct, gapless numbers", arguments: TestBackend.allCases)
    func concurrentLastWriteWins(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "counter", value: "0", context: ["a": "1"], caller: .alice)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<12 {
                group.addTask {
                    _ = try await vault.updateObject(
                        id: created.id,
                        value: "\(writer)",
                        versionCheck: nil,
                        caller: .alice
                    )
                }
            }
            try await group.waitForAll()
        }
        let versions = try await vault.listVersions(id: created.id, environmentID: Self.env).data
        #expect(versions.map(\.version) == Array((1...13).reversed()))
        #expect(versions.first?.currentVersion == true)
        #expect(try await vault.describeObject(id: created.id, environmentID: Self.env).metadata.version == 13)
    }

    @Test("the migration numbers existing versions by creation and canonicalizes contexts")
    func migration() throws {
        let queue = try DatabaseQueue()
        try SQLiteStorage.migrator.migrate(queue, upTo: "v4: keks_quarantine")
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO objects (id, environment_id, name, key_context, created_at, updated_at,
                                         updated_by_id, updated_by_name, current_version_id)
                    VALUES ('o1', 'env', 'n', '{ "b" : "2", "a":"1\\/x" }', 1, 30, 'key_last', 'sk_…last', 'v3'),
                           ('o2', 'env', 'm', '{"k":"v"}', 5, 5, 'key_o2', 'sk_…o2', 'w1');
                    INSERT INTO object_versions (id, object_id, created_at, size, etag, data_key_id, sealed_value)
                    VALUES ('v2', 'o1', 20, 1, 'e', 'dk', x'00'), ('v1', 'o1', 10, 1, 'e', 'dk', x'00'),
                           ('v3', 'o1', 30, 1, 'e', 'dk', x'00'), ('w1', 'o2', 5, 1, 'e', 'dk', x'00');
                    """
            )
        }
        try SQLiteStorage.migrator.migrate(queue)
        try queue.read { db in
            let numbers = try Row.fetchAll(db, sql: "SELECT id, number FROM object_versions ORDER BY id").map {
                "\($0["id"] as String)=\($0["number"] as Int)"
            }
            #expect(numbers == ["v1=1", "v2=2", "v3=3", "w1=1"])
            let writers = try Row.fetchAll(db, sql: "SELECT id, created_by_id FROM object_versions ORDER BY id").map {
                "\($0["id"] as String)=\($0["created_by_id"] as String)"
            }
            #expect(writers == ["v1=unknown", "v2=unknown", "v3=key_last", "w1=key_o2"])
            let context = try String.fetchOne(db, sql: "SELECT key_context FROM objects WHERE id = 'o1'")
            #expect(context == #"{"a":"1/x","b":"2"}"#)
        }
    }
}
