import EnvelopeCrypto
import Foundation
import GRDB
import InMemoryLogging
import Logging
import Testing
import VaultAPI

@testable import LocalVault
@testable import LocalVaultPostgres

/// Root-key rotation: every KEK re-wrapped under a new key in one transaction, nothing
/// re-encrypted, the old key refused afterwards, and a crash at any step leaving exactly one key
/// that opens the store, on disk where the operator looks.
@Suite struct RootKeyRotationTests {
    let env = LocalVault.defaultEnvironmentID

    /// A store of one backend whose root key (and, for SQLite, the store) is in a temporary
    /// folder, with data of every kind sealed before the rotation.
    final class Fixture: @unchecked Sendable {
        let backend: TestBackend
        let directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("lv-rotate-\(UUID().uuidString)").path
        /// The PostgreSQL database of this fixture alone (dropped on release); nil for SQLite.
        let databaseURL: String?
        var keyPath: String { directory + "/root.key" }
        var objectID = ""
        var blob: EnvelopeBlob?
        var issued: IssuedDataKey?
        let responseBody = Array(#"{"id":"object_1"}"#.utf8)

        init(_ backend: TestBackend = .sqlite) async throws {
            self.backend = backend
            // A PostgreSQL store keeps nothing here: the folder holds only key files.
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
            databaseURL = try await backend.freshStore(directory: directory).databaseURL
        }

        func configuration(_ rootKey: RootKeySource? = nil, logger: Logger? = nil) -> LocalVaultConfiguration {
            LocalVaultConfiguration(
                dataDirectory: directory,
                rootKey: rootKey ?? .file(keyPath),
                logger: logger,
                purgesInBackground: false
            )
        }

        /// Opens the store as a process starting on it would; the caller closes the vault (a
        /// rotation needs the store to itself).
        func open(_ rootKey: RootKeySource? = nil, logger: Logger? = nil) async throws -> LocalVault {
            try await backend.open(configuration(rootKey, logger: logger), databaseURL: databaseURL)
        }

        /// A rotation with the root key `rootKey` through the public API, holding the store
        /// exclusively as the admin command does; with `step`, stopped after it as a crash would.
        func rotate(
            _ rootKey: RootKeySource? = nil,
            newKeyFile: String? = nil,
            stoppingAfter step: RootKeyRotation.Step? = nil
        ) async throws -> RootKeyRotationReport {
            switch (databaseURL, step) {
            case (nil, nil):
                return try await LocalVault.rotateRootKey(configuration: configuration(rootKey), newKeyFile: newKeyFile)
            case (let databaseURL?, nil):
                return try await LocalVault.rotateRootKey(
                    databaseURL: databaseURL,
                    configuration: configuration(rootKey),
                    newKeyFile: newKeyFile
                )
            case (nil, let step?):
                return try await RootKeyRotation.rotate(
                    configuration: configuration(rootKey),
                    newKeyFile: newKeyFile,
                    stoppingAfter: step
                )
            case (let databaseURL?, let step?):
                return try await rotateOnDatabase(databaseURL, rootKey, newKeyFile: newKeyFile, stoppingAfter: step)
            }
        }

        /// A PostgreSQL rotation stopped after `step`, on a storage held exclusively and released
        /// after it, as the admin command's process exiting would release it.
        private func rotateOnDatabase(
            _ databaseURL: String,
            _ rootKey: RootKeySource?,
            newKeyFile: String?,
            stoppingAfter step: RootKeyRotation.Step
        ) async throws -> RootKeyRotationReport {
            let url = try PostgresDatabaseURL(parsing: databaseURL)
            let storage = try await PostgresStorage(url: url, use: .exclusive)
            let outcome: Result<RootKeyRotationReport, any Error>
            do {
                outcome = .success(
                    try await RootKeyRotation.rotate(
                        storage: storage,
                        configuration: configuration(rootKey),
                        newKeyFile: newKeyFile,
                        storeDescription: url.redactedDescription,
                        stoppingAfter: step
                    )
                )
            } catch {
                outcome = .failure(error)
            }
            await storage.shutDown()
            return try outcome.get()
        }

        /// Writes an object (two versions), issues a data key (two contexts pairs) and seals a
        /// blob with it as client-side encryption does, and stores an idempotent response.
        func populate(_ rootKey: RootKeySource? = nil) async throws {
            let vault = try await open(rootKey)
            let created = try await vault.createObject(
                name: "db/password",
                value: "one",
                context: ["organization_id": "org_1"],
                caller: .alice
            )
            _ = try await vault.updateObject(id: created.id, value: "two", versionCheck: nil, caller: .alice)
            objectID = created.id
            let issued = try await vault.createDataKey(
                context: ["organization_id": "org_2", "region": "eu"],
                environmentID: LocalVault.defaultEnvironmentID
            )
            self.issued = issued
            blob = try EnvelopeBlob.seal(Array("4242".utf8), with: issued.key, encryptedKeys: issued.encryptedKeys)
            #expect(try await vault.claimIdempotencyKey(scope: "key_alice", key: "k1", requestHash: "h") == .claimed)
            try await vault.completeIdempotencyKey(scope: "key_alice", key: "k1", status: 201, body: responseBody)
            await vault.close()
        }

        /// Everything written by ``populate(_:)`` reads back, through a vault opened with `rootKey`.
        func expectReadable(
            _ rootKey: RootKeySource? = nil,
            sourceLocation: SourceLocation = #_sourceLocation
        )
            async throws
        {
            let vault = try await open(rootKey)
            let env = LocalVault.defaultEnvironmentID
            #expect(try await vault.readObject(id: objectID, environmentID: env).value == "two")
            #expect(try await vault.readObject(id: objectID, version: .number(1), environmentID: env).value == "one")
            let issued = try #require(issued)
            let opened = try await vault.decryptDataKey(encryptedKeys: issued.encryptedKeys, environmentID: env)
            #expect(opened.key == issued.key, sourceLocation: sourceLocation)
            #expect(try blob?.open(with: opened.key) == Array("4242".utf8), sourceLocation: sourceLocation)
            let replay = try await vault.claimIdempotencyKey(scope: "key_alice", key: "k1", requestHash: "h")
            #expect(replay == .replay(status: 201, body: responseBody), sourceLocation: sourceLocation)
            await vault.close()
        }

        /// The rows of a SQLite store (the SQLite-only tests).
        func rows(_ sql: String) throws -> [Data] {
            let queue = try DatabaseQueue(path: directory + "/vault.sqlite")
            return try queue.read { try Data.fetchAll($0, sql: sql) }
        }

        func fileKey(_ path: String) throws -> DataKey {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            if bytes.count == DataKey.byteCount { return try DataKey(copying: Array(bytes)) }
            return try DataKey(
                base64Encoded: String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            )
        }

        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
        }

        deinit {
            try? FileManager.default.removeItem(atPath: directory)
            if let databaseURL {
                Task { await TestDatabase.drop(databaseURL) }
            }
        }
    }

    func expectRefused(
        _ message: String,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> Any
    ) {
        do {
            _ = try body()
            Issue.record("it succeeded", sourceLocation: sourceLocation)
        } catch let error as LocalVaultError {
            #expect(error.message.contains(message), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    func expectRefused(
        _ message: String,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> Any
    ) async {
        do {
            _ = try await body()
            Issue.record("it succeeded", sourceLocation: sourceLocation)
        } catch let error as LocalVaultError {
            #expect(error.message.contains(message), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("after a rotation everything sealed before decrypts, nothing is re-encrypted, the old key is refused")
    func rotationKeepsEverythingReadable() async throws {
        let fixture = try await Fixture()
        try await fixture.populate()
        let oldKey = try fixture.fileKey(fixture.keyPath)
        let sealedBefore = try fixture.rows("SELECT sealed_value FROM object_versions ORDER BY id")
        let keksBefore = try fixture.rows("SELECT wrapped_key FROM keks ORDER BY id")

        let handler = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in handler })
        let report = try await LocalVault.rotateRootKey(configuration: fixture.configuration(logger: logger))

        #expect(report.rewrappedKEKs == 3)
        #expect(report.resealedResponses == 1)
        #expect(report.droppedResponses == 0)
        #expect(report.newKeyPath == fixture.keyPath)
        #expect(!report.mustUpdateEnvironment)
        let newKey = try fixture.fileKey(fixture.keyPath)
        #expect(newKey != oldKey)
        #expect(try fixture.mode(fixture.keyPath) == 0o600)
        #expect(!FileManager.default.fileExists(atPath: fixture.keyPath + ".next"))
        #expect(try fixture.rows("SELECT sealed_value FROM object_versions ORDER BY id") == sealedBefore)
        let keksAfter = try fixture.rows("SELECT wrapped_key FROM keks ORDER BY id")
        #expect(keksAfter.count == keksBefore.count)
        #expect(zip(keksAfter, keksBefore).allSatisfy { $0 != $1 })
        try await fixture.expectReadable()
        await expectRefused("the root key does not match the store") {
            try await fixture.open(.base64(oldKey.base64EncodedString()))
        }
        let logged = handler.entries.map { "\($0.level) \($0.message) \($0.metadata)" }.joined(separator: "\n")
        #expect(logged.contains("notice rotated the root key"))
        for key in [oldKey, newKey] {
            #expect(!logged.contains(key.base64EncodedString()))
        }
    }

    @Test("a rotation is refused while a vault is open on the store, and changes nothing")
    func rotationIsRefusedWhileTheStoreIsOpen() async throws {
        let fixture = try await Fixture()
        try await fixture.populate()
        let oldKey = try fixture.fileKey(fixture.keyPath)
        let vault = try await fixture.open()
        await expectRefused("is open in another process") {
            try await LocalVault.rotateRootKey(configuration: fixture.configuration())
        }
        await vault.close()
        #expect(try fixture.fileKey(fixture.keyPath) == oldKey)
        #expect(!FileManager.default.fileExists(atPath: fixture.keyPath + ".next"))
        try await fixture.expectReadable()
    }

    @Test(
        "a crash at any step leaves exactly one key that opens the store, in root.key after the next start",
        arguments: TestBackend.allCases,
        [RootKeyRotation.Step.newKeyWritten, .rowsRewrapped, .committed]
    )
    func crashDuringRotation(backend: TestBackend, at step: RootKeyRotation.Step) async throws {
        let fixture = try await Fixture(backend)
        try await fixture.populate()
        let oldKey = try fixture.fileKey(fixture.keyPath)
        await #expect(throws: RootKeyRotation.Interrupted.self) {
            try await fixture.rotate(stoppingAfter: step)
        }
        #expect(FileManager.default.fileExists(atPath: fixture.keyPath + ".next"), "the crash left the next key")
        let nextKey = try fixture.fileKey(fixture.keyPath + ".next")

        let handler = InMemoryLogHandler()
        try await fixture.open(logger: Logger(label: "test", factory: { _ in handler })).close()
        #expect(!FileManager.default.fileExists(atPath: fixture.keyPath + ".next"))
        let inPlace = try fixture.fileKey(fixture.keyPath)
        let finished = handler.entries.contains {
            $0.level == .notice && "\($0.message)".contains("finished an interrupted root-key rotation")
        }
        if step == .committed {
            #expect(inPlace == nextKey)
            #expect(finished)
            await expectRefused("the root key does not match the store") {
                try await fixture.open(.base64(oldKey.base64EncodedString()))
            }
        } else {
            #expect(inPlace == oldKey)
            #expect(!finished)
            await expectRefused("the root key does not match the store") {
                try await fixture.open(.base64(nextKey.base64EncodedString()))
            }
        }
        try await fixture.expectReadable()
        // A later rotation runs normally.
        #expect(try await fixture.rotate().rewrappedKEKs == 3)
        try await fixture.expectReadable()
    }

    @Test(
        "with VAULT_ROOT_KEY the new key goes to a new 0600 file, and the refusal of the old key names it",
        arguments: TestBackend.allCases
    )
    func rootKeyFromTheEnvironment(backend: TestBackend) async throws {
        let fixture = try await Fixture(backend)
        let oldKey = try DataKey.generate()
        let old = RootKeySource.base64(oldKey.base64EncodedString())
        try await fixture.populate(old)
        let newKeyFile = fixture.directory + "/new-root-key"
        await expectRefused("name a new key file") { try await fixture.rotate(old) }

        let report = try await fixture.rotate(old, newKeyFile: newKeyFile)

        #expect(report.mustUpdateEnvironment)
        #expect(report.newKeyPath == newKeyFile)
        #expect(report.rewrappedKEKs == 3)
        #expect(try fixture.mode(newKeyFile) == 0o600)
        let text = try String(contentsOfFile: newKeyFile, encoding: .utf8)
        let newKey = try DataKey(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(!"\(report)".contains(newKey.base64EncodedString()))
        #expect(!FileManager.default.fileExists(atPath: fixture.keyPath), "no root.key was created")
        await expectRefused("new key written to \(newKeyFile)") { try await fixture.open(old) }
        try await fixture.expectReadable(.base64(newKey.base64EncodedString()))
        // The new key file is never overwritten.
        await expectRefused("already exists") {
            try await fixture.rotate(.base64(newKey.base64EncodedString()), newKeyFile: newKeyFile)
        }
        try await fixture.expectReadable(.base64(newKey.base64EncodedString()))
    }

    @Test(
        "with VAULT_ROOT_KEY a crash before the commit keeps the old key, after it the new key file opens",
        arguments: TestBackend.allCases
    )
    func crashWithRootKeyFromTheEnvironment(backend: TestBackend) async throws {
        let fixture = try await Fixture(backend)
        let oldKey = try DataKey.generate()
        let old = RootKeySource.base64(oldKey.base64EncodedString())
        try await fixture.populate(old)
        let early = fixture.directory + "/early"
        await #expect(throws: RootKeyRotation.Interrupted.self) {
            try await fixture.rotate(old, newKeyFile: early, stoppingAfter: .rowsRewrapped)
        }
        try await fixture.expectReadable(old)

        let late = fixture.directory + "/late"
        await #expect(throws: RootKeyRotation.Interrupted.self) {
            try await fixture.rotate(old, newKeyFile: late, stoppingAfter: .committed)
        }
        await expectRefused("new key written to \(late)") { try await fixture.open(old) }
        try await fixture.expectReadable(.base64(try fixture.fileKey(late).base64EncodedString()))
    }

    @Test("a KEK that does not open refuses the rotation and changes nothing")
    func anAlteredKEKRefusesTheRotation() async throws {
        let fixture = try await Fixture()
        try await fixture.populate()
        let oldKey = try fixture.fileKey(fixture.keyPath)
        let queue = try DatabaseQueue(path: fixture.directory + "/vault.sqlite")
        try await queue.write { db in
            try db.execute(sql: "UPDATE keks SET context_value = 'org_9' WHERE context_value = 'org_2'")
        }
        try queue.close()
        let checkBefore = try fixture.rows("SELECT value FROM meta WHERE name = 'root_key_check'")
        await expectRefused("rotation refused, nothing changed") {
            try await LocalVault.rotateRootKey(configuration: fixture.configuration())
        }
        #expect(try fixture.fileKey(fixture.keyPath) == oldKey)
        #expect(!FileManager.default.fileExists(atPath: fixture.keyPath + ".next"))
        #expect(try fixture.rows("SELECT value FROM meta WHERE name = 'root_key_check'") == checkBefore)
        let vault = try await fixture.open()
        let object = try await vault.readObject(id: fixture.objectID, environmentID: env)
        #expect(object.value == "two")
    }

    @Test("a store from before the root-key check rotates, and its version-1 blobs and objects still open")
    func legacyStoreRotates() async throws {
        let fixture = try LegacyStoreFixture()
        let oldKey = try Data(contentsOf: URL(fileURLWithPath: fixture.directory + "/root.key"))
        let report = try await LocalVault.rotateRootKey(
            configuration: LocalVaultConfiguration(
                dataDirectory: fixture.directory,
                rootKey: .file(fixture.directory + "/root.key"),
                purgesInBackground: false
            )
        )
        #expect(report.rewrappedKEKs > 0)
        let vault = try fixture.open()
        for name in ["mixed-staging", "mixed-local", "vault-only-staging", "customer-only-local"] {
            let stored = try #require(fixture.cases[name])
            let opened = try await vault.decryptDataKey(
                encryptedKeys: try fixture.encryptedKeys(name),
                environmentID: stored.environment_id
            )
            #expect(opened.key == (try fixture.dataKey(name)), "\(name)")
        }
        for name in ["managed-staging", "byok-staging", "byok-local"] {
            let stored = try #require(fixture.cases[name])
            #expect(
                try await vault.readObject(id: stored.id, environmentID: stored.environment_id).value == stored.value
            )
        }
        expectRefused("the root key does not match the store") {
            try fixture.open(rootKey: .base64(oldKey.base64EncodedString()))
        }
    }
}
