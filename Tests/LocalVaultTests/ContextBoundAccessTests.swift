import Foundation
import GRDB
import Testing
import VaultAPI

@testable import LocalVault

/// An object is found under a given key context only if its context holds exactly those pairs,
/// byte for byte; any other context answers the same 404 as a missing object, before anything
/// is decrypted.
@Suite("Context-bound access")
struct ContextBoundAccessTests {
    static let env = LocalVault.defaultEnvironmentID
    static let stored: KeyContext = ["organization_id": "org_1", "region": "caf\u{E9}"]

    /// Contexts that differ from ``stored``: each must answer not found.
    static let mismatches: [(label: String, context: KeyContext)] = [
        ("wrong value", ["organization_id": "org_2", "region": "caf\u{E9}"]),
        ("extra pair", ["organization_id": "org_1", "region": "caf\u{E9}", "env": "prod"]),
        ("missing pair", ["organization_id": "org_1"]),
        ("different spacing in a key", ["organization_id ": "org_1", "region": "caf\u{E9}"]),
        ("different spacing in a value", ["organization_id": " org_1", "region": "caf\u{E9}"]),
        // Equal as Swift strings (canonically equivalent), different bytes.
        ("decomposed accent", ["organization_id": "org_1", "region": "cafe\u{301}"]),
    ]

    @Test("the exact context finds the object through every call", arguments: TestBackend.allCases)
    func exactContextFinds(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "db", value: "v1", context: Self.stored, caller: .alice)
        // The same pairs in another order are the same context.
        let same: KeyContext = ["region": "caf\u{E9}", "organization_id": "org_1"]
        #expect(try await vault.readObject(id: created.id, environmentID: Self.env, context: same).value == "v1")
        #expect(try await vault.readObject(named: "db", environmentID: Self.env, context: same).id == created.id)
        #expect(try await vault.describeObject(id: created.id, environmentID: Self.env, context: same).name == "db")
        _ = try await vault.updateObject(id: created.id, value: "v2", versionCheck: nil, context: same, caller: .alice)
        #expect(try await vault.listVersions(id: created.id, environmentID: Self.env, context: same).data.count == 2)
        let listed = try await vault.listObjects(ListObjectsQuery(keyContext: same), environmentID: Self.env)
        #expect(listed.data.map(\.id) == [created.id])
        _ = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: Self.env, context: same)
        let gone = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.readObject(id: created.id, environmentID: Self.env)
        }
        #expect(gone?.httpStatus == 404)
    }

    @Test(
        "a mismatched context is not found, like a missing object",
        arguments: TestBackend.allCases,
        0..<mismatches.count
    )
    func mismatchIsNotFound(backend: TestBackend, index: Int) async throws {
        let other = Self.mismatches[index].context
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "db", value: "v1", context: Self.stored, caller: .alice)
        let missing = "00000000-0000-0000-0000-000000000000"
        for id in [created.id, missing] {
            let calls: [@Sendable () async throws -> Void] = [
                { _ = try await vault.readObject(id: id, environmentID: Self.env, context: other) },
                { _ = try await vault.describeObject(id: id, environmentID: Self.env, context: other) },
                { _ = try await vault.listVersions(id: id, environmentID: Self.env, context: other) },
                {
                    _ = try await vault.updateObject(
                        id: id,
                        value: "lost",
                        versionCheck: nil,
                        context: other,
                        caller: .alice
                    )
                },
                {
                    _ = try await vault.deleteObject(id: id, versionCheck: nil, environmentID: Self.env, context: other)
                },
                // A stale check under another context says nothing either: 404, not 409.
                {
                    _ = try await vault.updateObject(
                        id: id,
                        value: "lost",
                        versionCheck: "stale",
                        expectedVersion: 99,
                        context: other,
                        caller: .alice
                    )
                },
                {
                    _ = try await vault.deleteObject(
                        id: id,
                        versionCheck: "stale",
                        environmentID: Self.env,
                        context: other
                    )
                },
            ]
            for call in calls {
                let error = await #expect(throws: LocalVaultError.self) { try await call() }
                #expect(error == LocalVaultError.objectNotFound)
            }
        }
        let byName = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.readObject(named: "db", environmentID: Self.env, context: other)
        }
        #expect(byName == LocalVaultError.objectNotFound)
        #expect(try await vault.listObjects(ListObjectsQuery(keyContext: other), environmentID: Self.env).data.isEmpty)
        // Nothing changed: one version, the first value.
        let read = try await vault.readObject(id: created.id, environmentID: Self.env, context: Self.stored)
        #expect(read.value == "v1")
        #expect(try await vault.listVersions(id: created.id, environmentID: Self.env).data.count == 1)
    }

    @Test("a mismatched context decrypts nothing", arguments: TestBackend.allCases)
    func mismatchDecryptsNothing(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "db", value: "v1", context: Self.stored, caller: .alice)
        // Damage the stored value: any attempt to open it now fails with a 500.
        try await temporary.damageSealedValues()
        for (_, other) in Self.mismatches {
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await vault.readObject(id: created.id, environmentID: Self.env, context: other)
            }
            #expect(error?.httpStatus == 404)
        }
        let opened = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.readObject(id: created.id, environmentID: Self.env, context: Self.stored)
        }
        #expect(opened?.httpStatus == 500)
    }

    @Test(
        "listing by context lists only the objects of exactly that context, page by page",
        arguments: TestBackend.allCases
    )
    func listByContext(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        var ours: [String] = []
        for index in 0..<5 {
            ours.append(
                try await vault.createObject(name: "ours-\(index)", value: "v", context: Self.stored, caller: .alice).id
            )
            for (label, other) in Self.mismatches {
                _ = try await vault.createObject(name: "\(label)-\(index)", value: "v", context: other, caller: .alice)
            }
            try await Task.sleep(for: .milliseconds(2))  // distinct creation times
        }
        var seen: [String] = []
        var after: String?
        repeat {
            let page = try await vault.listObjects(
                ListObjectsQuery(limit: 2, after: after, order: .ascending, keyContext: Self.stored),
                environmentID: Self.env
            )
            seen += page.data.map(\.id)
            after = page.listMetadata.after
        } while after != nil
        #expect(seen == ours)
        let all = try await vault.listObjects(ListObjectsQuery(limit: 100), environmentID: Self.env)
        #expect(all.data.count == 5 * (1 + Self.mismatches.count))
    }

    @Test("a context that breaks the rules is a 422, not an empty answer", arguments: TestBackend.allCases)
    func invalidContextIs422(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "db", value: "v", context: Self.stored, caller: .alice)
        for broken in [KeyContext([:]), ["a\u{0}": "b"], ["a": ""]] as [KeyContext] {
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await vault.readObject(id: created.id, environmentID: Self.env, context: broken)
            }
            #expect(error?.httpStatus == 422)
            #expect(error?.rule == .keyContext)
            let listed = await #expect(throws: LocalVaultError.self) {
                _ = try await vault.listObjects(ListObjectsQuery(keyContext: broken), environmentID: Self.env)
            }
            #expect(listed?.httpStatus == 422)
        }
    }

    @Test("the store keeps each context as canonical JSON", arguments: TestBackend.allCases)
    func storedCanonically(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let context: KeyContext = ["b": "2/x", "a": "1", "Z": "\"q\""]
        let created = try await vault.createObject(name: "db", value: "v", context: context, caller: .alice)
        let stored = try await temporary.storedKeyContext(ofObject: created.id)
        #expect(stored == #"{"Z":"\"q\"","a":"1","b":"2/x"}"#)
        #expect(context.canonicalJSON == stored)
    }
}

extension ContextBoundAccessTests {
    @Test("listing by context is an equality on the context index, not a scan")
    func listByContextUsesTheIndex() async throws {
        // SQLite's query planner: a plan for PostgreSQL would need a test of its own.
        let temporary = try await TemporaryVault(.sqlite)
        let vault = temporary.vault
        _ = try await vault.createObject(name: "db", value: "v", context: Self.stored, caller: .alice)
        // The statement listObjects runs for a context (first page, newest first).
        let plan = try await vault.store.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    EXPLAIN QUERY PLAN SELECT id, name, updated_at FROM objects
                    WHERE environment_id = ? AND deleted_at IS NULL AND key_context = ?
                    ORDER BY created_at DESC, id DESC LIMIT ?
                    """,
                arguments: [Self.env, Self.stored.canonicalJSON, 11]
            ).map { $0["detail"] as String }.joined(separator: "\n")
        }
        #expect(plan.contains("objects_by_context (environment_id=? AND key_context=?)"), "\(plan)")
        #expect(!plan.contains("TEMP B-TREE"), "\(plan)")
    }
}
