import EnvelopeCrypto
import Foundation
import GRDB
import Testing
import VaultAPI

@testable import LocalVault

/// Events (the audit trail): what each operation records, that nothing secret is in them, that a
/// write and its event commit together, that a read whose event cannot be written fails, the
/// hash chain, retention and listing.
@Suite struct EventTests {
    static let env = LocalVault.defaultEnvironmentID
    static let allTypes = Set(VaultEventType.allCases)

    /// Every event of `environmentID`, oldest first.
    static func events(
        _ vault: LocalVault,
        _ types: Set<VaultEventType> = allTypes,
        environmentID: String = env
    ) async throws -> [VaultEvent] {
        var all: [VaultEvent] = []
        var after: String?
        while true {
            let page = try await vault.listEvents(
                EventListQuery(events: types, limit: 100, after: after, order: .ascending),
                environmentID: environmentID
            )
            all += page.data
            guard let next = page.listMetadata.after else { return all }
            after = next
        }
    }

    /// Runs one statement on the vault's store (SQLite through GRDB, PostgreSQL over its own connection).
    static func execute(_ temporary: TemporaryVault, _ sql: String) async throws {
        if let url = temporary.databaseURL {
            _ = try await TestDatabase.rows(url, sql)
        } else {
            try await temporary.vault.store.pool.write { db in try db.execute(sql: sql) }
        }
    }

    @Test(
        "each operation records its event type, with the fields the SDK models define",
        arguments: TestBackend.allCases
    )
    func eachOperationRecordsItsEvent(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend, recordsEvents: true)
        let vault = temporary.vault
        let alice = VaultCaller.alice
        let context: KeyContext = ["organization_id": "org_1"]
        let created = try await vault.createObject(name: "n", value: "v1", context: context, caller: alice)
        _ = try await vault.readObject(id: created.id, caller: alice)
        _ = try await vault.readObject(named: "n", caller: alice)
        _ = try await vault.describeObject(id: created.id, caller: alice)
        let updated = try await vault.updateObject(id: created.id, value: "v2", versionCheck: nil, caller: alice)
        _ = try await vault.listObjects(ListObjectsQuery(), caller: alice)
        _ = try await vault.readObject(id: created.id, version: .number(1), caller: alice)
        _ = try await vault.deleteObject(id: created.id, versionCheck: nil, caller: alice)
        let issued = try await vault.createDataKey(context: context, caller: alice)
        _ = try await vault.decryptDataKey(encryptedKeys: issued.encryptedKeys, caller: alice)
        let rekeyed = try await vault.rekey(encryptedKeys: issued.encryptedKeys, context: ["k": "v"], caller: alice)

        let events = try await Self.events(vault)
        #expect(
            events.map(\.event) == [
                .kekCreated, .dataCreated, .dataRead, .dataRead, .metadataRead, .dataUpdated, .namesListed, .dataRead,
                .dataDeleted, .dekRead, .dekDecrypted, .kekCreated, .dekRekeyed,
            ]
        )
        for event in events {
            #expect(event.object == "event")
            #expect(event.id.hasPrefix("event_"))
            #expect(event.data.actorID == "key_alice")
            #expect(event.data.actorName == "sk_…lice")
            #expect(event.data.actorSource == "api")
        }
        #expect(events[0].data.keyName == "organization_id:org_1")
        #expect(events[0].data.keyID != nil)
        #expect(events[1].data.kvName == "n")
        #expect(events[1].data.keyID == created.keyID)
        #expect(events[1].data.keyContext == context)
        #expect(events[2].data.kvName == "n")
        #expect(events[2].data.keyID == created.keyID)
        #expect(events[2].data.keyContext == nil)
        #expect(events[4].data.kvName == "n")
        #expect(events[4].data.keyID == nil)
        #expect(events[5].data.keyID == updated.metadata.keyID)
        #expect(events[5].data.keyContext == context)
        #expect(events[6].data.kvName == nil)
        #expect(events[7].data.keyID == created.keyID)
        #expect(events[8].data.kvName == "n")
        #expect(events[9].data.keyIDs == [issued.id])
        #expect(events[9].data.keyContext == context)
        #expect(events[10].data.keyID == issued.id)
        #expect(events[11].data.keyName == "k:v")
        #expect(events[12].data.keyIDs == [rekeyed.id])
        #expect(events[12].data.keyContext == ["k": "v"])
        // Only the events of organization org_1's context carry it.
        let ofOrganization = try await vault.listEvents(
            EventListQuery(events: Self.allTypes, limit: 100, order: .ascending, organizationID: "org_1"),
            environmentID: Self.env
        )
        #expect(
            ofOrganization.data.map(\.event) == [
                .kekCreated, .dataCreated, .dataRead, .dataRead, .metadataRead, .dataUpdated, .dataRead, .dataDeleted,
                .dekRead,
            ]
        )
    }

    @Test("no event holds a value, a data key or encrypted keys", arguments: TestBackend.allCases)
    func noSecretInEvents(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend, recordsEvents: true)
        let vault = temporary.vault
        let value = "the-secret-value-\(UUID().uuidString)"
        let created = try await vault.createObject(name: "n", value: value, context: ["k": "v"], caller: .alice)
        _ = try await vault.readObject(id: created.id, caller: .alice)
        let updatedValue = "another-secret-\(UUID().uuidString)"
        _ = try await vault.updateObject(id: created.id, value: updatedValue, versionCheck: nil, caller: .alice)
        let issued = try await vault.createDataKey(context: ["k": "v"], caller: .alice)
        let opened = try await vault.decryptDataKey(encryptedKeys: issued.encryptedKeys, caller: .alice)
        let rekeyed = try await vault.rekey(encryptedKeys: issued.encryptedKeys, context: ["k2": "v"], caller: .alice)
        let events = try await Self.events(vault)
        #expect(events.count == 8)
        let serialized = String(decoding: try VaultJSON.encoder().encode(events), as: UTF8.self)
        let secrets = [
            value, updatedValue, issued.key.base64EncodedString(), opened.key.base64EncodedString(),
            Base64.encode(issued.encryptedKeys), Base64.encode(rekeyed.encryptedKeys),
        ]
        for secret in secrets { #expect(!serialized.contains(secret)) }
    }

    @Test("a write that fails records no event", arguments: TestBackend.allCases)
    func failedWritesRecordNothing(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend, recordsEvents: true)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "n", value: "v", context: ["k": "v"], caller: .alice)
        await #expect(throws: LocalVaultError.self) {
            _ = try await vault.createObject(name: "n", value: "v", context: ["k": "v"], caller: .alice)
        }
        await #expect(throws: LocalVaultError.self) {
            _ = try await vault.updateObject(id: created.id, value: "w", versionCheck: "stale", caller: .alice)
        }
        await #expect(throws: LocalVaultError.self) {
            _ = try await vault.deleteObject(id: "missing", versionCheck: nil, caller: .alice)
        }
        let writes: Set<VaultEventType> = [.dataCreated, .dataUpdated, .dataDeleted]
        #expect(try await Self.events(vault, writes).map(\.event) == [.dataCreated])
    }

    @Test(
        "an event the store refuses fails the read, and rolls the write back with it",
        arguments: TestBackend.allCases
    )
    func refusedEventFailsTheOperation(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend, recordsEvents: true)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "n", value: "v", context: ["k": "v"], caller: .alice)
        let issued = try await vault.createDataKey(context: ["k": "v"], caller: .alice)
        let before = try await Self.events(vault).count
        if backend == .sqlite {
            try await Self.execute(
                temporary,
                "CREATE TRIGGER refuse_events BEFORE INSERT ON events BEGIN SELECT RAISE(FAIL, 'refused'); END"
            )
        } else {
            try await Self.execute(temporary, "ALTER TABLE events ADD CONSTRAINT refuse_events CHECK (false) NOT VALID")
        }
        await #expect(throws: (any Error).self) { _ = try await vault.readObject(id: created.id, caller: .alice) }
        await #expect(throws: (any Error).self) { _ = try await vault.describeObject(id: created.id, caller: .alice) }
        await #expect(throws: (any Error).self) { _ = try await vault.listObjects(ListObjectsQuery(), caller: .alice) }
        await #expect(throws: (any Error).self) {
            _ = try await vault.decryptDataKey(encryptedKeys: issued.encryptedKeys, caller: .alice)
        }
        await #expect(throws: (any Error).self) {
            _ = try await vault.createDataKey(context: ["k": "v"], caller: .alice)
        }
        await #expect(throws: (any Error).self) {
            _ = try await vault.createObject(name: "other", value: "v", context: ["k": "v"], caller: .alice)
        }
        await #expect(throws: (any Error).self) {
            _ = try await vault.updateObject(id: created.id, value: "w", versionCheck: nil, caller: .alice)
        }
        await #expect(throws: (any Error).self) {
            _ = try await vault.deleteObject(id: created.id, versionCheck: nil, caller: .alice)
        }
        #expect(try await Self.events(vault).count == before)
        // The writes were rolled back with their events: nothing changed.
        try await Self.execute(
            temporary,
            backend == .sqlite ? "DROP TRIGGER refuse_events" : "ALTER TABLE events DROP CONSTRAINT refuse_events"
        )
        let untouched = try await vault.readObject(id: created.id, environmentID: Self.env)
        #expect(untouched.value == "v")
        #expect(untouched.metadata.version == 1)
        await #expect(throws: LocalVaultError.self) {
            _ = try await vault.readObject(named: "other", environmentID: Self.env)
        }
    }

    @Test(
        "concurrent reads share group commits, each event recorded once, the chain intact",
        arguments: TestBackend.allCases
    )
    func concurrentReadsAreAllRecorded(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend, recordsEvents: true)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "n", value: "v", context: ["k": "v"], caller: .alice)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<60 { group.addTask { _ = try await vault.readObject(id: created.id, caller: .alice) } }
            for _ in 0..<20 {
                group.addTask { _ = try await vault.createDataKey(context: ["k": "v"], caller: .staging) }
            }
            try await group.waitForAll()
        }
        #expect(try await Self.events(vault, [.dataRead]).count == 60)
        #expect(try await Self.events(vault, [.dekRead], environmentID: VaultCaller.staging.environmentID).count == 20)
        let checks = try await vault.verifyEvents()
        #expect(checks.count == 2)
        #expect(checks.allSatisfy { $0.broken == nil })
        let checked = checks.map(\.checked).reduce(0, +)
        // The KEK and the object created, the reads; in staging its KEK and the data keys.
        #expect(checked == 83)
    }

    /// A vault recording events with one object stored (its KEK and the object: two events), and a
    /// second vault on the same store, as another instance.
    static func twoInstances(
        _ backend: TestBackend
    ) async throws -> (TemporaryVault, second: LocalVault, created: ObjectMetadata) {
        let temporary = try await TemporaryVault(backend, recordsEvents: true)
        let created = try await temporary.vault.createObject(name: "n", value: "v", context: ["k": "v"], caller: .alice)
        var configuration = temporary.configuration
        configuration.recordsEvents = true
        let second = try await backend.open(configuration, databaseURL: temporary.databaseURL)
        return (temporary, second, created)
    }

    @Test("two vaults on one store (two instances) append to one chain, in order", arguments: TestBackend.allCases)
    func twoInstancesShareOneChain(backend: TestBackend) async throws {
        let (temporary, second, created) = try await Self.twoInstances(backend)
        let first = temporary.vault
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                let vault = index.isMultiple(of: 2) ? first : second
                group.addTask { _ = try await vault.readObject(id: created.id, caller: .alice) }
            }
            try await group.waitForAll()
        }
        #expect(try await Self.events(second, [.dataRead]).count == 40)
        let checks = try await first.verifyEvents()
        #expect(checks.first?.broken == nil)
        #expect(checks.first?.sequences == 1...42)
        await second.close()
    }

    /// Each instance chains its reads after the head it committed last when that is still the head
    /// (PostgreSQL: one statement), and after the stored head when another instance or a write of
    /// its own has moved it since: taking turns, with writes between, leaves one unbroken chain.
    @Test("instances taking turns, with writes between, keep one unbroken chain", arguments: TestBackend.allCases)
    func instancesTakingTurnsKeepOneChain(backend: TestBackend) async throws {
        let (temporary, second, created) = try await Self.twoInstances(backend)
        let first = temporary.vault
        for round in 0..<6 {
            for vault in [first, first, second, second, first] {
                _ = try await vault.readObject(id: created.id, caller: .alice)
            }
            let writer = round.isMultiple(of: 2) ? first : second
            _ = try await writer.updateObject(id: created.id, value: "v\(round)", versionCheck: nil, caller: .alice)
        }
        let checks = try await second.verifyEvents()
        #expect(checks.first?.broken == nil)
        #expect(checks.first?.sequences == 1...38)  // kek.created and data.created first
        #expect(try await Self.events(first, [.dataRead]).count == 30)
        #expect(try await Self.events(first, [.dataUpdated]).count == 6)
        await second.close()
    }

    @Test("verification finds an altered event, a removed one and a cut end", arguments: TestBackend.allCases)
    func verificationFindsTampering(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend, recordsEvents: true)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "n", value: "v", context: ["k": "v"], caller: .alice)
        for _ in 0..<5 { _ = try await vault.readObject(id: created.id, caller: .alice) }
        let intact = try await vault.verifyEvents()
        #expect(intact.map(\.checked) == [7])
        #expect(intact.first?.sequences == 1...7)
        #expect(intact.first?.broken == nil)
        let events = try await Self.events(vault)

        // An edited actor: that event's hash no longer matches.
        try await Self.execute(
            temporary,
            "UPDATE events SET data = replace(data, 'key_alice', 'key_mallory') WHERE sequence = 4"
        )
        let altered = try #require(try await vault.verifyEvents().first?.broken)
        #expect(altered.sequence == 4)
        #expect(altered.eventID == events[3].id)
        #expect(altered.reason.contains("altered"))

        // Removed instead: the next one names the gap.
        try await Self.execute(temporary, "DELETE FROM events WHERE sequence = 4")
        let removed = try #require(try await vault.verifyEvents().first?.broken)
        #expect(removed.sequence == 5)
        #expect(removed.eventID == events[4].id)

        // The newest events cut off: the head still knows.
        try await Self.execute(temporary, "DELETE FROM events WHERE sequence >= 4")
        let cut = try #require(try await vault.verifyEvents().first?.broken)
        #expect(cut.sequence == 3)
        #expect(cut.reason.contains("missing"))
    }

    @Test("retention deletes old events; the rest verify from the oldest kept", arguments: TestBackend.allCases)
    func retention(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend, recordsEvents: true)
        let vault = temporary.vault
        let created = try await vault.createObject(name: "n", value: "v", context: ["k": "v"], caller: .alice)
        _ = try await vault.readObject(id: created.id, caller: .alice)
        try await Task.sleep(for: .milliseconds(20))
        let cutoff = Date()
        try await Task.sleep(for: .milliseconds(20))
        _ = try await vault.describeObject(id: created.id, caller: .alice)
        _ = try await vault.listObjects(ListObjectsQuery(), caller: .alice)
        #expect(try await vault.purgeEvents(createdBefore: cutoff) == 3)
        #expect(try await Self.events(vault).map(\.event) == [.metadataRead, .namesListed])
        let checks = try await vault.verifyEvents()
        #expect(checks.first?.broken == nil)
        #expect(checks.first?.sequences == 4...5)
        // New events go on from the head.
        _ = try await vault.readObject(id: created.id, caller: .alice)
        #expect(try await vault.verifyEvents().first?.sequences == 4...6)
    }

    @Test("pages: order, after and before cursors, range, environments apart", arguments: TestBackend.allCases)
    func listing(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend, recordsEvents: true)
        let vault = temporary.vault
        for _ in 0..<5 { _ = try await vault.createDataKey(context: ["k": "v"], caller: .alice) }
        _ = try await vault.createDataKey(context: ["k": "v"], caller: .staging)
        let all = try await Self.events(vault, [.dekRead])
        #expect(all.count == 5)
        let ids = all.map(\.id)

        // Newest first by default.
        let first = try await vault.listEvents(EventListQuery(events: [.dekRead], limit: 2), environmentID: Self.env)
        #expect(first.data.map(\.id) == [ids[4], ids[3]])
        #expect(first.listMetadata.after == ids[3])
        let second = try await vault.listEvents(
            EventListQuery(events: [.dekRead], limit: 2, after: ids[3]),
            environmentID: Self.env
        )
        #expect(second.data.map(\.id) == [ids[2], ids[1]])
        #expect(second.listMetadata.before == ids[2])
        let back = try await vault.listEvents(
            EventListQuery(events: [.dekRead], limit: 2, before: ids[2]),
            environmentID: Self.env
        )
        #expect(back.data.map(\.id) == [ids[4], ids[3]])
        #expect(back.listMetadata.before == nil)
        let last = try await vault.listEvents(
            EventListQuery(events: [.dekRead], limit: 2, after: ids[1]),
            environmentID: Self.env
        )
        #expect(last.data.map(\.id) == [ids[0]])
        #expect(last.listMetadata.after == nil)

        // Range: created at or after range_start, before range_end.
        let ranged = try await vault.listEvents(
            EventListQuery(
                events: [.dekRead],
                limit: 100,
                order: .ascending,
                rangeStart: all[1].createdAt,
                rangeEnd: all[4].createdAt
            ),
            environmentID: Self.env
        )
        #expect(ranged.data.allSatisfy { $0.createdAt >= all[1].createdAt && $0.createdAt < all[4].createdAt })
        #expect(ranged.data.contains { $0.id == ids[1] })
        #expect(!ranged.data.contains { $0.id == ids[4] })

        // Another environment sees its own only, and a cursor of this one names nothing there.
        let staging = VaultCaller.staging.environmentID
        #expect(try await Self.events(vault, [.dekRead], environmentID: staging).count == 1)
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.listEvents(EventListQuery(events: [.dekRead], after: ids[0]), environmentID: staging)
        }
        #expect(error?.kind == .unprocessable)
        await #expect(throws: LocalVaultError.self) {
            _ = try await vault.listEvents(EventListQuery(events: [.dekRead], limit: 101), environmentID: Self.env)
        }
        await #expect(throws: LocalVaultError.self) {
            _ = try await vault.listEvents(EventListQuery(events: []), environmentID: Self.env)
        }
    }

    @Test("a vault that records no events (the embedded default) writes none", arguments: TestBackend.allCases)
    func offRecordsNothing(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        #expect(!vault.recordsEvents)
        let created = try await vault.createObject(name: "n", value: "v", context: ["k": "v"], caller: .alice)
        _ = try await vault.readObject(id: created.id, caller: .alice)
        _ = try await vault.createDataKey(context: ["k": "v"], caller: .alice)
        #expect(try await Self.events(vault).isEmpty)
        #expect(try await vault.verifyEvents().isEmpty)
    }

    @Test("the embedded calls without a caller record the local actor")
    func localActor() async throws {
        let temporary = try await TemporaryVault(.sqlite, recordsEvents: true)
        _ = try await temporary.vault.createDataKey(context: ["k": "v"], environmentID: Self.env)
        let events = try await Self.events(temporary.vault, [.dekRead])
        #expect(events.map(\.data.actorID) == [VaultCaller.localActor.id])
    }

    @Test("the data's hand-written JSON reads back as the same value, escapes included")
    func canonicalDataJSON() throws {
        let all = VaultEventData(
            actor: VaultActor(id: "key_\"1\\", name: "sk_…é\u{1}"),
            kvName: "a/b \"c\"\n",
            keyID: "id",
            keyIDs: ["x", "y"],
            keyContext: ["b": "2", "a": "1\t"],
            keyName: "k:v",
            organizationID: "org",
            keyProvider: .azureKeyVault,
            verified: false
        )
        for data in [all, VaultEventData(), VaultEventData(actor: VaultActor(id: "i", name: "n"))] {
            let json = data.canonicalJSON
            #expect(try JSONDecoder().decode(VaultEventData.self, from: Data(json.utf8)) == data, "\(json)")
        }
        #expect(
            VaultEventData(actor: VaultActor(id: "i", name: "n"), keyID: "k").canonicalJSON
                == #"{"actor_id":"i","actor_name":"n","actor_source":"api","key_id":"k"}"#
        )
    }

    @Test("a row's hash is the v1 form's: stores written before keep verifying")
    func hashFormIsStable() {
        // Expected values computed apart (Python hashlib) from the form: "lvs.event.v1\n", then
        // each field as "LENGTH:TEXT\n" (prev hash, sequence, id, environment, type, created_at,
        // organization or "", "1"/"0" for its presence, data).
        let first = NewVaultEvent(
            id: "event_01JABCDEFGHJKMNPQRSTVWXYZ0",
            environmentID: "environment_local",
            type: "vault.dek.read",
            dataJSON: #"{"actor_id":"key_1","key_ids":["k"]}"#,
            createdAt: 1_733_356_800_123,
            organizationID: "org_é"
        )
        #expect(
            EventChain.hash(first, sequence: 1, prevHash: EventChain.genesis)
                == "1a20ba9851b676c88a4f4bead01623e8b141e09fbef07d90926043d963be9e7c"
        )
        let second = NewVaultEvent(
            id: "event_x",
            environmentID: "environment_staging",
            type: "vault.names.listed",
            dataJSON: "{}",
            createdAt: 5,
            organizationID: nil
        )
        #expect(
            EventChain.hash(second, sequence: 12_345_678_901, prevHash: String(repeating: "ab", count: 32))
                == "f17fd4a87079837021593255f755ce6f61a9c74c94cccafb3b7e098c66a1569a"
        )
    }

    /// A rotation records `vault.kek.created` for the new version and a retirement
    /// `vault.kek.deleted` for each retired one, as the admin; a max-age rotation as the policy.
    @Test("KEK rotations and retirements record kek.created and kek.deleted", arguments: TestBackend.allCases)
    func kekRotationAndRetirementEvents(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend, recordsEvents: true)
        let vault = temporary.vault
        _ = try await vault.createDataKey(context: ["organization_id": "org_k"], caller: .alice)
        _ = try await vault.rotateKEKs(context: ["organization_id": "org_k"], environmentID: Self.env)
        _ = try await vault.retireKEKVersions(
            contextKey: "organization_id",
            contextValue: "org_k",
            below: 2,
            environmentID: Self.env
        )
        let rotatedByPolicy = try await vault.rotateKEKs(olderThan: .zero, now: Date().addingTimeInterval(1))
        #expect(rotatedByPolicy.map(\.rotation.version) == [3])

        let created = try await Self.events(vault, [.kekCreated])
        let deleted = try await Self.events(vault, [.kekDeleted])
        #expect(
            created.map(\.data.actorID)
                == [VaultCaller.alice.actor.id, LocalVault.adminActor.id, LocalVault.rotationPolicyActor.id]
        )
        #expect(Set(created.compactMap(\.data.keyID)).count == 3)
        #expect(created.allSatisfy { $0.data.keyName == "organization_id:org_k" })
        #expect(deleted.count == 1)
        #expect(deleted.first?.data.keyID == created.first?.data.keyID)
        #expect(deleted.first?.data.keyName == "organization_id:org_k")
        #expect(deleted.first?.data.actorID == LocalVault.adminActor.id)
        // Filtered by organization like every event of the pair.
        let listed = try await vault.listEvents(
            EventListQuery(events: [.kekCreated, .kekDeleted], organizationID: "org_k"),
            environmentID: Self.env
        )
        #expect(listed.data.count == 4)
    }
}
