import EnvelopeCrypto
import Foundation
import LocalVault
import Testing
import VaultAPI

@Suite struct ObjectStoreTests {
    let env = LocalVault.defaultEnvironmentID

    @Test(arguments: TestBackend.allCases)
    func createReadUpdateDescribeVersionsDelete(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let created = try await vault.createObject(
            name: "stripe/api-key",
            value: "sk_live_secret",
            context: ["organization_id": "org_1"],
            caller: .alice
        )
        #expect(created.environmentID == env)
        #expect(created.updatedBy == VaultCaller.alice.actor)
        #expect(created.context == ["organization_id": "org_1"])
        let firstVersion = try #require(created.versionID)

        let read = try await vault.readObject(id: created.id, environmentID: env)
        #expect(read.value == "sk_live_secret")
        #expect(read.name == "stripe/api-key")
        #expect(try await vault.readObject(named: "stripe/api-key", environmentID: env) == read)

        let updated = try await vault.updateObject(
            id: created.id,
            value: "rotated",
            versionCheck: firstVersion,
            caller: .alice
        )
        let secondVersion = try #require(updated.metadata.versionID)
        #expect(secondVersion != firstVersion)
        #expect(try await vault.readObject(id: created.id, environmentID: env).value == "rotated")
        #expect(try await vault.describeObject(id: created.id, environmentID: env) == updated)

        let stale = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.updateObject(id: created.id, value: "lost", versionCheck: firstVersion, caller: .alice)
        }
        #expect(stale?.httpStatus == 409)
        _ = try await vault.updateObject(id: created.id, value: "last write wins", versionCheck: nil, caller: .alice)

        let versions = try await vault.listVersions(id: created.id, environmentID: env).data
        #expect(versions.count == 3)
        #expect(versions.filter(\.currentVersion).count == 1)
        #expect(versions.first?.currentVersion == true)
        #expect(versions.map(\.size) == [15, 7, 14])
        #expect(Set(versions.map(\.etag)).count == 3)

        let staleDelete = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.deleteObject(id: created.id, versionCheck: secondVersion, environmentID: env)
        }
        #expect(staleDelete?.httpStatus == 409)
        let deleted = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: env)
        #expect(deleted == DeleteObjectResponse(success: true, name: "stripe/api-key"))
        for operation in [
            { _ = try await vault.readObject(id: created.id, environmentID: env) },
            { _ = try await vault.readObject(named: "stripe/api-key", environmentID: env) },
            { _ = try await vault.describeObject(id: created.id, environmentID: env) },
            { _ = try await vault.listVersions(id: created.id, environmentID: env) },
            { _ = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: env) },
            { _ = try await vault.updateObject(id: created.id, value: "x", versionCheck: nil, caller: .alice) },
        ] as [@Sendable () async throws -> Void] {
            let error = await #expect(throws: LocalVaultError.self) { try await operation() }
            #expect(error?.httpStatus == 404)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func namesAreUniqueAndReusableOnceTheDeletedObjectIsPurged(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let first = try await vault.createObject(name: "db", value: "one", context: ["a": "1"], caller: .alice)
        let duplicate = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.createObject(name: "db", value: "two", context: ["a": "1"], caller: .alice)
        }
        #expect(duplicate?.httpStatus == 409)
        // Another environment has its own names.
        _ = try await vault.createObject(name: "db", value: "staging", context: ["a": "1"], caller: .staging)
        _ = try await vault.deleteObject(id: first.id, versionCheck: nil, environmentID: env)
        let held = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.createObject(name: "db", value: "two", context: ["a": "1"], caller: .alice)
        }
        #expect(held?.httpStatus == 409)
        #expect(try await vault.purgeDeletedObjects(deletedBefore: Date()) == 1)
        let second = try await vault.createObject(name: "db", value: "two", context: ["a": "1"], caller: .alice)
        #expect(second.id != first.id)
        #expect(try await vault.readObject(named: "db", environmentID: env).value == "two")
        #expect(try await vault.readObject(named: "db", environmentID: "environment_staging").value == "staging")
    }

    @Test(arguments: TestBackend.allCases)
    func environmentsAreIsolated(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let created = try await temporary.vault.createObject(name: "x", value: "v", context: ["a": "1"], caller: .alice)
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await temporary.vault.readObject(id: created.id, environmentID: "environment_staging")
        }
        #expect(error?.httpStatus == 404)
        #expect(
            try await temporary.vault.listObjects(ListObjectsQuery(), environmentID: "environment_staging").data.isEmpty
        )
    }

    @Test(arguments: TestBackend.allCases)
    func ofConcurrentUpdatesWithTheSameVersionCheckExactlyOneWins(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "counter", value: "0", context: ["a": "1"], caller: .alice)
        let check = try #require(created.versionID)
        let outcomes = await withTaskGroup(of: Int.self) { group in
            for writer in 0..<16 {
                group.addTask {
                    do {
                        _ = try await vault.updateObject(
                            id: created.id,
                            value: "\(writer)",
                            versionCheck: check,
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
        #expect(try await vault.listVersions(id: created.id, environmentID: env).data.count == 2)
    }

    @Test(arguments: TestBackend.allCases)
    func listingPagesThroughEverythingInBothOrders(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        var ids: [String] = []
        for index in 0..<23 {
            ids.append(
                try await vault.createObject(name: "item-\(index)", value: "v", context: ["a": "1"], caller: .alice).id
            )
            try await Task.sleep(for: .milliseconds(2))  // distinct creation times
        }
        for order in [ListOrder.ascending, .descending] {
            var seen: [String] = []
            var after: String?
            var pages = 0
            repeat {
                let page = try await vault.listObjects(
                    ListObjectsQuery(limit: 10, after: after, order: order),
                    environmentID: env
                )
                seen += page.data.map(\.id)
                after = page.listMetadata.after
                pages += 1
            } while after != nil
            #expect(pages == 3)
            #expect(seen == (order == .ascending ? ids : ids.reversed()))
            // Walking back from the last page with `before` gives the previous page.
            let last = try await vault.listObjects(
                ListObjectsQuery(limit: 10, after: seen[19], order: order),
                environmentID: env
            )
            #expect(last.data.map(\.id) == Array(seen[20...]))
            let previous = try await vault.listObjects(
                ListObjectsQuery(limit: 10, before: last.listMetadata.before, order: order),
                environmentID: env
            )
            #expect(previous.data.map(\.id) == Array(seen[10..<20]))
        }
        let searched = try await vault.listObjects(ListObjectsQuery(limit: 100, search: "item-1"), environmentID: env)
        #expect(Set(searched.data.map(\.name)) == Set(["item-1"] + (10...19).map { "item-\($0)" }))
        let wildcard = try await vault.listObjects(ListObjectsQuery(search: "%"), environmentID: env)
        #expect(wildcard.data.isEmpty)
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.listObjects(ListObjectsQuery(limit: 101), environmentID: env)
        }
        #expect(error?.httpStatus == 422)
    }

    @Test(arguments: TestBackend.allCases)
    func updatedAfterFiltersByLastWrite(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let old = try await vault.createObject(name: "old", value: "v", context: ["a": "1"], caller: .alice)
        _ = try await vault.createObject(name: "untouched", value: "v", context: ["a": "1"], caller: .alice)
        try await Task.sleep(for: .milliseconds(20))
        let cutoff = Date()
        try await Task.sleep(for: .milliseconds(20))
        _ = try await vault.updateObject(id: old.id, value: "new", versionCheck: nil, caller: .alice)
        let page = try await vault.listObjects(ListObjectsQuery(updatedAfter: cutoff), environmentID: env)
        #expect(page.data.map(\.name) == ["old"])
    }

    @Test func theDatabaseNeverHoldsPlaintextValuesOrKeys() async throws {
        let temporary = try await TemporaryVault(.sqlite)
        let vault = temporary.vault
        let marker = "PLAINTEXT-MARKER-\(UUID().uuidString)"
        let created = try await vault.createObject(name: "n", value: marker, context: ["a": "1"], caller: .alice)
        _ = try await vault.updateObject(id: created.id, value: marker + "-2", versionCheck: nil, caller: .alice)
        let issued = try await vault.createDataKey(context: ["a": "1"], environmentID: env)
        let keyBytes = issued.key.withUnsafeBytes { Array($0) }
        let files = try FileManager.default.contentsOfDirectory(atPath: temporary.directory).filter {
            $0.hasPrefix("vault.sqlite")
        }
        #expect(!files.isEmpty)
        for file in files {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: temporary.directory + "/" + file)))
            #expect(bytes.firstRange(of: Array(marker.utf8)) == nil, "\(file) holds a plaintext value")
            #expect(bytes.firstRange(of: keyBytes) == nil, "\(file) holds a plaintext data key")
            #expect(bytes.firstRange(of: Array(issued.key.base64EncodedString().utf8)) == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func deletedObjectsArePurged(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "gone", value: "v", context: ["a": "1"], caller: .alice)
        _ = try await vault.createObject(name: "kept", value: "v", context: ["a": "1"], caller: .alice)
        _ = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: env)
        #expect(try await vault.purgeDeletedObjects(deletedBefore: Date().addingTimeInterval(-60)) == 0)
        #expect(try await vault.purgeDeletedObjects(deletedBefore: Date()) == 1)
        #expect(try await vault.readObject(named: "kept", environmentID: env).value == "v")
    }

    @Test(arguments: TestBackend.allCases)
    func invalidNamesAndContextsAreRejected(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        for (name, context) in [("", ["a": "1"]), (String(repeating: "n", count: 201), ["a": "1"]), ("ok", [:])]
            as [(String, [String: String])]
        {
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await temporary.vault.createObject(
                    name: name,
                    value: "v",
                    context: KeyContext(context),
                    caller: .alice
                )
            }
            #expect(error?.httpStatus == 422)
        }
        #expect(try await temporary.vault.listObjects(ListObjectsQuery(), environmentID: env).data.isEmpty)
    }

    @Test(arguments: TestBackend.allCases)
    func volatileIdempotencyRecordsReplayButDoNotSurviveARestart(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        #expect(try await vault.claimIdempotencyKey(scope: "s", key: "k", requestHash: "h", durable: false) == .claimed)
        #expect(
            try await vault.claimIdempotencyKey(scope: "s", key: "k", requestHash: "h", durable: false) == .inProgress
        )
        #expect(
            try await vault.claimIdempotencyKey(scope: "s", key: "k", requestHash: "x", durable: false) == .mismatch
        )
        // The durable table is separate.
        #expect(try await vault.claimIdempotencyKey(scope: "s", key: "k", requestHash: "h") == .claimed)
        let body = Array(#"{"data_key":"secret"}"#.utf8)
        try await vault.completeIdempotencyKey(scope: "s", key: "k", status: 200, body: body, durable: false)
        #expect(
            try await vault.claimIdempotencyKey(scope: "s", key: "k", requestHash: "h", durable: false)
                == .replay(status: 200, body: body)
        )
        try await temporary.reopen()
        #expect(
            try await temporary.vault.claimIdempotencyKey(scope: "s", key: "k", requestHash: "h", durable: false)
                == .claimed
        )
    }

    @Test(arguments: TestBackend.allCases)
    func idempotencyKeysReplayTheFirstResponse(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        #expect(try await vault.claimIdempotencyKey(scope: "key_a", key: "k1", requestHash: "h1") == .claimed)
        #expect(try await vault.claimIdempotencyKey(scope: "key_a", key: "k1", requestHash: "h1") == .inProgress)
        #expect(try await vault.claimIdempotencyKey(scope: "key_a", key: "k1", requestHash: "h2") == .mismatch)
        #expect(try await vault.claimIdempotencyKey(scope: "key_b", key: "k1", requestHash: "h1") == .claimed)
        let body = Array("{\"data_key\":\"secret\"}".utf8)
        try await vault.completeIdempotencyKey(scope: "key_a", key: "k1", status: 200, body: body)
        try await temporary.reopen()
        #expect(
            try await temporary.vault.claimIdempotencyKey(scope: "key_a", key: "k1", requestHash: "h1")
                == .replay(status: 200, body: body)
        )
        try await temporary.vault.releaseIdempotencyKey(scope: "key_b", key: "k1")
        #expect(try await temporary.vault.claimIdempotencyKey(scope: "key_b", key: "k1", requestHash: "h1") == .claimed)
        // A claim whose request died is taken over once its lease has run out, not before.
        let later = Date().addingTimeInterval(LocalVault.idempotencyLease / 2)
        #expect(
            try await temporary.vault.claimIdempotencyKey(scope: "key_b", key: "k1", requestHash: "h1", now: later)
                == .inProgress
        )
        let afterLease = Date().addingTimeInterval(LocalVault.idempotencyLease + 1)
        #expect(
            try await temporary.vault.claimIdempotencyKey(scope: "key_b", key: "k1", requestHash: "h1", now: afterLease)
                == .claimed
        )
    }
}
