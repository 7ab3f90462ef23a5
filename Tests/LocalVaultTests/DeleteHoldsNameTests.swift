import Foundation
import GRDB
import Testing
import VaultAPI

@testable import LocalVault

/// A deleted object holds its name until it is purged, `purgeDelay` after the delete, and the
/// purge leaves none of its bytes in the store's files.
@Suite("deletes hold the name until the purge")
struct DeleteHoldsNameTests {
    static let env = LocalVault.defaultEnvironmentID

    @Test("a create with a deleted object's name is a 409 saying when the name frees", arguments: TestBackend.allCases)
    func heldName(backend: TestBackend) async throws {
        let store = try await TemporaryVault(backend, purgeDelay: .seconds(300), purgesInBackground: false)
        let vault = store.vault
        let created = try await vault.createObject(name: "db-password", value: "v", context: ["a": "1"], caller: .alice)
        let before = Date()
        _ = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: Self.env)
        await #expect(throws: LocalVaultError.objectNotFound) {
            _ = try await vault.readObject(named: "db-password", environmentID: Self.env)
        }
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.createObject(name: "db-password", value: "w", context: ["a": "1"], caller: .alice)
        }
        #expect(error?.kind == .conflict)
        #expect(error?.httpStatus == 409)
        let message = try #require(error?.message)
        #expect(message.contains("held by a deleted object"))
        #expect(!message.contains("db-password"), "no client text in the message")
        let instant = try #require(message.split(separator: " ").last.map(String.init))
        let frees = try Date(instant, strategy: .iso8601)
        #expect(frees >= before.addingTimeInterval(299) && frees <= Date().addingTimeInterval(302))
        // Another environment's namespace is its own.
        _ = try await vault.createObject(name: "db-password", value: "w", context: ["a": "1"], caller: .staging)
        // Not due yet: nothing purged; due: purged, and the name is free.
        #expect(try await vault.purgeDueObjects() == 0)
        #expect(try await vault.purgeDueObjects(now: Date().addingTimeInterval(301)) == 1)
        let again = try await vault.createObject(name: "db-password", value: "w", context: ["a": "1"], caller: .alice)
        #expect(try await vault.readObject(id: again.id, environmentID: Self.env).value == "w")
    }

    @Test("a zero delay purges on delete and frees the name at once", arguments: TestBackend.allCases)
    func zeroDelay(backend: TestBackend) async throws {
        let store = try await TemporaryVault(backend, purgeDelay: .zero, purgesInBackground: false)
        let vault = store.vault
        let created = try await vault.createObject(name: "n", value: "v", context: ["a": "1"], caller: .alice)
        _ = try await vault.updateObject(id: created.id, value: "v2", versionCheck: nil, caller: .alice)
        _ = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: Self.env)
        #expect(try await store.objectRows() == 0)
        #expect(try await store.versionRows() == 0)
        _ = try await vault.createObject(name: "n", value: "w", context: ["a": "1"], caller: .alice)
    }

    @Test("a create purges a held row whose purge is due", arguments: TestBackend.allCases)
    func createPurgesDueHolder(backend: TestBackend) async throws {
        let store = try await TemporaryVault(backend, purgeDelay: .milliseconds(200), purgesInBackground: false)
        let vault = store.vault
        let created = try await vault.createObject(name: "n", value: "v", context: ["a": "1"], caller: .alice)
        _ = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: Self.env)
        try await Task.sleep(for: .milliseconds(400))
        let again = try await vault.createObject(name: "n", value: "w", context: ["a": "1"], caller: .alice)
        #expect(try await store.objectRows() == 1)
        #expect(try await vault.readObject(named: "n", environmentID: Self.env).id == again.id)
    }

    @Test("the vault purges due objects on its own", arguments: TestBackend.allCases)
    func backgroundPurge(backend: TestBackend) async throws {
        let store = try await TemporaryVault(backend, purgeDelay: .seconds(1), purgesInBackground: true)
        let vault = store.vault
        #expect(vault.purgeInterval == .seconds(1))
        let created = try await vault.createObject(name: "n", value: "v", context: ["a": "1"], caller: .alice)
        _ = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: Self.env)
        let deadline = ContinuousClock.now + .seconds(60)
        while try await store.objectRows() > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await store.objectRows() == 0)
    }

    @Test("the purge interval is the delay, at most a minute")
    func purgeInterval() {
        #expect(LocalVault.purgeInterval(delay: .seconds(300)) == .seconds(60))
        #expect(LocalVault.purgeInterval(delay: .seconds(5)) == .seconds(5))
        #expect(LocalVault.purgeInterval(delay: .zero) == .seconds(60))
        #expect(LocalVaultConfiguration(dataDirectory: "/nonexistent").purgeDelay == .seconds(300))
        #expect(Duration.milliseconds(1500).storedMilliseconds == 1500)
        #expect(Duration.microseconds(1).storedMilliseconds == 1)
        #expect(Duration.seconds(Int64.max).storedMilliseconds == Int64.max)
    }

    @Test("a delay too long to count holds the name for good, without a crash", arguments: TestBackend.allCases)
    func hugeDelay(backend: TestBackend) async throws {
        let store = try await TemporaryVault(backend, purgeDelay: .seconds(Int64.max), purgesInBackground: false)
        let vault = store.vault
        let created = try await vault.createObject(name: "n", value: "v", context: ["a": "1"], caller: .alice)
        _ = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: Self.env)
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.createObject(name: "n", value: "w", context: ["a": "1"], caller: .alice)
        }
        #expect(error?.message.hasSuffix("at 9999-12-31T23:59:59Z") == true)
        #expect(try await vault.purgeDueObjects() == 0)
    }

    @Test("the database refuses a second row with a held name", arguments: [false, true])
    func databaseEnforcesHeldNames(deleted: Bool) async throws {
        let store = try await TemporaryVault(.sqlite, purgeDelay: .seconds(300), purgesInBackground: false)
        let vault = store.vault
        let created = try await vault.createObject(name: "n", value: "v", context: ["a": "1"], caller: .alice)
        if deleted { _ = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: Self.env) }
        // What a create racing the delete would write, were the check before the insert skipped.
        await #expect(throws: DatabaseError.self) {
            try await vault.store.pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO objects (id, environment_id, name, key_context, created_at, updated_at,
                                             updated_by_id, updated_by_name, current_version_id)
                        VALUES ('other', ?, 'n', '{}', 1, 1, 'k', 'k', 'v')
                        """,
                    arguments: [Self.env]
                )
            }
        }
    }

    @Test("a purged value's sealed bytes are gone from the database file and its WAL", arguments: [true, false])
    func purgedBytesAreGone(zeroDelay: Bool) async throws {
        let store = try await TemporaryVault(
            .sqlite,
            purgeDelay: zeroDelay ? .zero : .seconds(300),
            purgesInBackground: false
        )
        let vault = store.vault
        let value = String(repeating: "secret value ", count: 40)
        let created = try await vault.createObject(name: "n", value: value, context: ["a": "1"], caller: .alice)
        _ = try await vault.updateObject(id: created.id, value: value + "2", versionCheck: nil, caller: .alice)
        _ = try await vault.createObject(name: "kept", value: "v", context: ["a": "1"], caller: .alice)
        let sealed = try await vault.store.pool.read { db in
            try Data.fetchAll(
                db,
                sql: "SELECT sealed_value FROM object_versions WHERE object_id = ?",
                arguments: [created.id]
            )
        }
        #expect(sealed.count == 2)
        // The ciphertext and tag at the end of each blob: unique to that version.
        let markers = sealed.map { Array($0.suffix(64)) }
        func filesHolding(_ marker: [UInt8]) throws -> [String] {
            try ["vault.sqlite", "vault.sqlite-wal"].filter { file in
                let path = store.directory + "/" + file
                guard FileManager.default.fileExists(atPath: path) else { return false }
                return Array(try Data(contentsOf: URL(fileURLWithPath: path))).firstRange(of: marker) != nil
            }
        }
        for marker in markers { #expect(try !filesHolding(marker).isEmpty, "the test looks in the right files") }
        _ = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: Self.env)
        if !zeroDelay {
            #expect(try await vault.purgeDueObjects(now: Date().addingTimeInterval(301)) == 1)
        }
        for marker in markers { #expect(try filesHolding(marker) == []) }
        #expect(try await vault.readObject(named: "kept", environmentID: Self.env).value == "v")
    }

    @Test("the migration purges deleted rows of older builds, whose names live objects may use")
    func migration() throws {
        let queue = try DatabaseQueue()
        try SQLiteStorage.migrator.migrate(queue, upTo: "v5: canonical key contexts, version numbers")
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO objects (id, environment_id, name, key_context, created_at, updated_at,
                                         updated_by_id, updated_by_name, current_version_id, deleted_at)
                    VALUES ('old', 'env', 'n', '{}', 1, 1, 'k', 'k', 'v1', 2),
                           ('older', 'env', 'n', '{}', 1, 1, 'k', 'k', 'v0', 3),
                           ('live', 'env', 'n', '{}', 3, 3, 'k', 'k', 'v2', NULL);
                    INSERT INTO object_versions (id, object_id, number, created_at, size, etag, data_key_id, sealed_value)
                    VALUES ('v1', 'old', 1, 1, 1, 'e', 'dk', x'00'), ('v0', 'older', 1, 1, 1, 'e', 'dk', x'00'),
                           ('v2', 'live', 1, 3, 1, 'e', 'dk', x'00');
                    """
            )
        }
        try SQLiteStorage.migrator.migrate(queue)
        let (objects, versions) = try queue.read { db in
            (
                try String.fetchAll(db, sql: "SELECT id FROM objects"),
                try String.fetchAll(db, sql: "SELECT id FROM object_versions")
            )
        }
        #expect(objects == ["live"])
        #expect(versions == ["v2"])
    }
}
