import EnvelopeCrypto
import Foundation
import GRDB
import LocalVaultPostgres
import Testing
import VaultAPI

@testable import LocalVault

/// `vault migrate`'s engine: a SQLite store copied into PostgreSQL under the same root key, then
/// verified; the refusals (a database that is not empty, a root key that is not the store's, a
/// store in use) write nothing.
@Suite(.timeLimit(.minutes(3)), .enabled(if: TestBackend.allCases.contains(.postgres)))
struct StoreMigrationTests {
    static let env = LocalVault.defaultEnvironmentID
    static let context = KeyContext(["organization_id": "org_1"])
    static let retiredContext = KeyContext(["tenant": "t_1"])

    /// A data folder whose SQLite store holds objects (one with three versions, one in another
    /// environment, one deleted and awaiting its purge), a rotated pair, a pair with a retired
    /// version, a durable idempotency record and a quarantined KEK row; removed on release.
    final class SourceStore: @unchecked Sendable {
        let directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("localvault-migrate-\(UUID().uuidString)").path
        var configuration: LocalVaultConfiguration {
            LocalVaultConfiguration(
                dataDirectory: directory,
                rootKey: .file(directory + "/root.key"),
                purgesInBackground: false
            )
        }
        var updated: ObjectMetadata!
        var staging: ObjectMetadata!
        var deletedName = "deleted/secret"
        /// Issued before the KEK rotation (under version 1) and after it (version 2).
        var keyBeforeRotation: IssuedDataKey!
        var keyAfterRotation: IssuedDataKey!
        /// Issued under the version that was then retired: refused before and after the copy.
        var keyUnderRetiredVersion: IssuedDataKey!
        let response = Array(#"{"id":"stored response"}"#.utf8)

        init() async throws {
            var recording = configuration
            recording.recordsEvents = true
            let vault = try LocalVault(configuration: recording)
            let created = try await vault.createObject(
                name: "db/password",
                value: "one",
                context: StoreMigrationTests.context,
                caller: .alice
            )
            _ = try await vault.updateObject(id: created.id, value: "two", versionCheck: nil, caller: .alice)
            keyBeforeRotation = try await vault.createDataKey(
                context: StoreMigrationTests.context,
                environmentID: StoreMigrationTests.env
            )
            _ = try await vault.rotateKEKs(context: StoreMigrationTests.context, environmentID: StoreMigrationTests.env)
            keyAfterRotation = try await vault.createDataKey(
                context: StoreMigrationTests.context,
                environmentID: StoreMigrationTests.env
            )
            updated = try await vault.updateObject(id: created.id, value: "three", versionCheck: nil, caller: .alice)
                .metadata
            staging = try await vault.createObject(
                name: "db/password",
                value: "staging value",
                context: ["organization_id": "org_2"],
                caller: .staging
            )
            let doomed = try await vault.createObject(
                name: deletedName,
                value: "gone",
                context: StoreMigrationTests.context,
                caller: .alice
            )
            _ = try await vault.deleteObject(id: doomed.id, versionCheck: nil, environmentID: StoreMigrationTests.env)

            keyUnderRetiredVersion = try await vault.createDataKey(
                context: StoreMigrationTests.retiredContext,
                environmentID: StoreMigrationTests.env
            )
            _ = try await vault.rotateKEKs(
                context: StoreMigrationTests.retiredContext,
                environmentID: StoreMigrationTests.env
            )
            #expect(
                try await vault.retireKEKVersions(
                    contextKey: "tenant",
                    contextValue: "t_1",
                    below: 2,
                    environmentID: StoreMigrationTests.env
                )
                    == .retired(count: 1)
            )

            #expect(
                try await vault.claimIdempotencyKey(scope: "key_alice", key: "idem-1", requestHash: "h1") == .claimed
            )
            try await vault.completeIdempotencyKey(scope: "key_alice", key: "idem-1", status: 201, body: response)

            // A row healed away by an older build: kept in the quarantine, copied as it is.
            try await vault.store.pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO keks_quarantine (id, environment_id, context_key, context_value, wrapped_key,
                                                     created_at, quarantined_at)
                        VALUES ('quarantined-kek', 'environment_local', 'organization_id', 'org_cut', x'0102', 1, 2)
                        """
                )
            }
        }

        /// Every row of every table, as text (blobs in hex), in key order: equal when nothing changed.
        func rows() throws -> [String] { try StoreMigrationTests.rows(ofStoreIn: directory) }

        deinit { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func rows(ofStoreIn directory: String) throws -> [String] {
        let queue = try DatabaseQueue(path: directory + "/vault.sqlite")
        return try queue.read { db in
            var lines: [String] = []
            let tables = [
                "meta", "keks", "keks_quarantine", "objects", "object_versions", "idempotency_keys", "events",
                "event_chain_heads",
            ]
            for table in tables {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY 1, 2") {
                    let values = row.databaseValues.map { value -> String in
                        switch value.storage {
                        case .null: "NULL"
                        case .int64(let number): String(number)
                        case .double(let number): String(number)
                        case .string(let text): "'\(text)'"
                        case .blob(let data): data.map { String(format: "%02x", $0) }.joined()
                        }
                    }
                    lines.append("\(table): \(values.joined(separator: ", "))")
                }
            }
            return lines
        }
    }

    @Test("a SQLite store migrates to PostgreSQL: every object, data key, retired version and stored response")
    func migratesEverything() async throws {
        let source = try await SourceStore()
        let before = try source.rows()
        let databaseURL = try await TestDatabase.create()
        defer { Task { await TestDatabase.drop(databaseURL) } }
        var reports: [StoreMigrationProgress] = []

        let report = try await LocalVault.migrate(
            fromDataDirectory: source.directory,
            toDatabaseURL: databaseURL,
            configuration: source.configuration
        ) { reports.append($0) }

        #expect(report.copied.keks == 5)
        #expect(report.copied.retiredKEKs == 1)
        #expect(report.copied.quarantinedKEKs == 1)
        #expect(report.copied.objects == 3)
        #expect(report.copied.deletedObjects == 1)
        #expect(report.copied.objectVersions == 5)
        #expect(report.copied.idempotencyRecords == 1)
        #expect(report.copied.metaRows == 1)
        #expect(report.copied.events >= 10)
        #expect(report.copied.eventChainHeads == 2)
        #expect(report.verifiedObjects == 2)
        #expect(reports.last == .verified(objects: 2))
        #expect(!report.destination.contains("password"))
        #expect(try source.rows() == before, "the source is left as it was")

        let vault = try await LocalVault.open(databaseURL: databaseURL, configuration: source.configuration)
        let object = try await vault.readObject(id: source.updated.id, environmentID: Self.env)
        #expect(object.value == "three")
        #expect(object.metadata == source.updated)
        let first = try await vault.readObject(id: source.updated.id, version: .number(1), environmentID: Self.env)
        #expect(first.value == "one")
        #expect(try await vault.listVersions(id: source.updated.id, environmentID: Self.env).data.count == 3)
        let staging = try await vault.readObject(
            id: source.staging.id,
            environmentID: VaultCaller.staging.environmentID
        )
        #expect(staging.value == "staging value")
        #expect(staging.metadata == source.staging)

        // The deleted object still holds its name until its purge.
        #expect(try await vault.pendingPurges() == 1)
        let held = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.createObject(
                name: source.deletedName,
                value: "x",
                context: Self.context,
                caller: .alice
            )
        }
        #expect(held?.message.contains("held by a deleted object") == true)

        for issued in [source.keyBeforeRotation!, source.keyAfterRotation!] {
            let opened = try await vault.decryptDataKey(encryptedKeys: issued.encryptedKeys, environmentID: Self.env)
            #expect(opened.key == issued.key)
        }
        await #expect(throws: LocalVaultError.self) {
            _ = try await vault.decryptDataKey(
                encryptedKeys: source.keyUnderRetiredVersion.encryptedKeys,
                environmentID: Self.env
            )
        }
        #expect(
            try await vault.claimIdempotencyKey(scope: "key_alice", key: "idem-1", requestHash: "h1")
                == .replay(status: 201, body: source.response)
        )
        // New data keys go under the rotated pair's newest version, as before the move.
        #expect(
            try await vault.newestKEKVersion(
                contextKey: "organization_id",
                contextValue: "org_1",
                environmentID: Self.env
            ) == 2
        )
        let quarantined = try await TestDatabase.rows(databaseURL, "SELECT id, version FROM keks_quarantine")
        #expect(quarantined == [["quarantined-kek", "1"]])
        // The event chains came as they were: they verify in the copy.
        let chains = try await vault.verifyEvents()
        #expect(chains.count == 2)
        #expect(chains.allSatisfy { $0.broken == nil })
        #expect(chains.map(\.checked).reduce(0, +) == report.copied.events)
    }

    @Test("a database that is not empty is refused and left as it is, nothing written")
    func refusesADatabaseThatIsNotEmpty() async throws {
        let source = try await SourceStore()
        let databaseURL = try await TestDatabase.create()
        defer { Task { await TestDatabase.drop(databaseURL) } }
        let otherFolder = FileManager.default.temporaryDirectory.appendingPathComponent("localvault-other-\(UUID())")
            .path
        defer { try? FileManager.default.removeItem(atPath: otherFolder) }
        try FileManager.default.createDirectory(atPath: otherFolder, withIntermediateDirectories: true)
        let other = LocalVaultConfiguration(
            dataDirectory: otherFolder,
            rootKey: .file(otherFolder + "/root.key"),
            purgesInBackground: false
        )
        let existing = try await LocalVault.open(databaseURL: databaseURL, configuration: other)
            .createObject(name: "already here", value: "kept", context: Self.context, caller: .alice)
        let rowsBefore = try await TestDatabase.rows(databaseURL, "SELECT id, current_version_id FROM objects")

        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await LocalVault.migrate(
                fromDataDirectory: source.directory,
                toDatabaseURL: databaseURL,
                configuration: source.configuration
            )
        }

        #expect(error?.message.contains("is not empty") == true)
        #expect(try await TestDatabase.rows(databaseURL, "SELECT id, current_version_id FROM objects") == rowsBefore)
        #expect(try await TestDatabase.rows(databaseURL, "SELECT COUNT(*) FROM object_versions") == [["1"]])
        let vault = try await LocalVault.open(databaseURL: databaseURL, configuration: other)
        #expect(try await vault.readObject(id: existing.id, environmentID: Self.env).value == "kept")
        // The source's lock was released: it opens again.
        _ = try LocalVault(configuration: source.configuration)
    }

    @Test("a root key that does not open the source is refused, nothing written")
    func refusesAnotherRootKey() async throws {
        let source = try await SourceStore()
        let databaseURL = try await TestDatabase.create()
        defer { Task { await TestDatabase.drop(databaseURL) } }
        var wrongKey = source.configuration
        wrongKey.rootKey = .base64(try DataKey.generate().base64EncodedString())

        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await LocalVault.migrate(
                fromDataDirectory: source.directory,
                toDatabaseURL: databaseURL,
                configuration: wrongKey
            )
        }

        #expect(error?.rule == .rootKey)
        let url = try PostgresDatabaseURL(parsing: databaseURL)
        #expect(try await PostgresStorage(url: url).isEmpty())
    }

    @Test("a store open in another vault (a running vault serve) is refused, nothing written")
    func refusesAStoreInUse() async throws {
        let source = try await SourceStore()
        let databaseURL = try await TestDatabase.create()
        defer { Task { await TestDatabase.drop(databaseURL) } }
        let running = try LocalVault(configuration: source.configuration)

        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await LocalVault.migrate(
                fromDataDirectory: source.directory,
                toDatabaseURL: databaseURL,
                configuration: source.configuration
            )
        }

        #expect(error?.message.contains("open in another process") == true)
        let url = try PostgresDatabaseURL(parsing: databaseURL)
        #expect(try await PostgresStorage(url: url).isEmpty())
        withExtendedLifetime(running) {}
    }

    /// Changes made to the copy behind the migration's back, once every row is in, and what the
    /// verification says about each.
    static let alterations: [(sql: String, failure: String)] = [
        ("UPDATE objects SET name = 'renamed' WHERE deleted_at IS NULL", "reads differently from the copy"),
        ("UPDATE object_versions SET sealed_value = '\\x00'::bytea", "does not read from the copy"),
        ("DELETE FROM objects WHERE deleted_at IS NOT NULL", "table objects holds 3 rows in the source and 2"),
    ]

    @Test("a copy that does not match its source fails the verification", arguments: 0..<3)
    func verificationCatchesADifference(alteration: Int) async throws {
        let source = try await SourceStore()
        let databaseURL = try await TestDatabase.create()
        defer { Task { await TestDatabase.drop(databaseURL) } }
        let (sql, failure) = Self.alterations[alteration]

        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await LocalVault.migrate(
                fromDataDirectory: source.directory,
                toDatabaseURL: databaseURL,
                configuration: source.configuration
            ) { progress in
                // The last table copied: every row is in, the verification comes next.
                guard case .copied(let copied) = progress, copied.idempotencyRecords == 1 else { return }
                TestDatabase.executeBlocking(databaseURL, sql)
            }
        }

        #expect(error?.message.contains("verification failed") == true)
        #expect(error?.message.contains(failure) == true, "\(error?.message ?? "")")
    }

    @Test(
        "an imported row holding U+0000 is refused, and its whole batch with it",
        arguments: TestBackend.allCases
    )
    func importRefusesNUL(backend: TestBackend) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("localvault-nul-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let databaseURL = backend == .postgres ? try await TestDatabase.create() : nil
        defer { if let databaseURL { Task { await TestDatabase.drop(databaseURL) } } }
        let storage: any VaultStorage =
            if let databaseURL {
                try await PostgresStorage(url: try PostgresDatabaseURL(parsing: databaseURL))
            } else {
                try SQLiteStorage.opened(in: directory)
            }
        let batch = StoreRowBatch(
            rows: .meta([StoreRow.Meta(name: "fine", value: [1]), StoreRow.Meta(name: "cut\u{0}here", value: [2])]),
            next: nil
        )

        await #expect(throws: LocalVaultError.textHoldsNUL) { try await storage.importRows(batch) }

        #expect(try await storage.isEmpty())
    }

    @Test("rows copied SQLite to PostgreSQL to SQLite in pages of two come back byte for byte")
    func roundTripInSmallPages() async throws {
        let source = try await SourceStore()
        do {
            let vault = try LocalVault(configuration: source.configuration)
            for key in ["idem-2", "idem-3"] {
                #expect(try await vault.claimIdempotencyKey(scope: "key_alice", key: key, requestHash: "h") == .claimed)
            }
            #expect(try await vault.claimIdempotencyKey(scope: "key_bob", key: "idem-1", requestHash: "h") == .claimed)
        }
        let before = try source.rows()
        let databaseURL = try await TestDatabase.create()
        defer { Task { await TestDatabase.drop(databaseURL) } }
        let postgres = try await PostgresStorage(url: try PostgresDatabaseURL(parsing: databaseURL))
        let back = FileManager.default.temporaryDirectory.appendingPathComponent("localvault-back-\(UUID())").path
        try FileManager.default.createDirectory(atPath: back, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: back) }

        let there = try await LocalVault.copyStore(
            from: try SQLiteStorage.opened(in: source.directory),
            to: postgres,
            batchSize: 2
        )
        let again = try await LocalVault.copyStore(from: postgres, to: try SQLiteStorage.opened(in: back), batchSize: 2)

        #expect(there == again)
        #expect(there.idempotencyRecords == 4)
        #expect(try Self.rows(ofStoreIn: back) == before)
        #expect(try await postgres.rowCounts() == (try await SQLiteStorage.opened(in: back).rowCounts()))
    }
}
