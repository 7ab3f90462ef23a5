import Foundation
import LocalVaultPostgres
import Testing
import VaultAPI

@testable import LocalVault

/// Several vaults on one PostgreSQL database: the store lock that keeps admin commands away from
/// running instances, and the KEK cache's time to live that carries a rotation or a retirement
/// from one vault to the others.
@Suite(.timeLimit(.minutes(3)), .enabled(if: TestBackend.allCases.contains(.postgres)))
struct SharedDatabaseLockTests {
    let context = KeyContext(["organization_id": "org_1"])
    let env = LocalVault.defaultEnvironmentID

    /// A fresh database and a folder holding its root key file; `remove()` drops both.
    struct SharedDatabase {
        let directory: String
        let url: String
        var configuration: LocalVaultConfiguration

        init(kekCacheTTL: Duration? = nil) async throws {
            directory =
                FileManager.default.temporaryDirectory
                .appendingPathComponent("localvault-shared-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            (configuration, _) = try await TestBackend.sqlite.freshStore(directory: directory)
            configuration.purgesInBackground = false
            if let kekCacheTTL { configuration.kekCacheTTL = kekCacheTTL }
            url = try await TestDatabase.create()
        }

        func open() async throws -> LocalVault {
            try await LocalVault.open(databaseURL: url, configuration: configuration)
        }

        func openExclusively() async throws -> LocalVault {
            try await LocalVault.openExclusively(databaseURL: url, configuration: configuration)
        }

        /// An exclusive open that does not wait: it fails if any vault still holds the store lock.
        func openExclusivelyAtOnce() async throws -> LocalVault {
            try await LocalVault.open(databaseURL: url, configuration: configuration, use: .exclusive, lockWait: .zero)
        }

        func remove() {
            let url = self.url
            Task { await TestDatabase.drop(url) }
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// The version of the KEK with this id.
        func kekVersion(id: String) async throws -> Int? {
            try await TestDatabase.rows(url, "SELECT version FROM keks WHERE id = '\(id)'").first.flatMap { Int($0[0]) }
        }

        /// The shared advisory locks held on this database (one per open vault).
        func sharedStoreLocks() async throws -> Int {
            let rows = try await TestDatabase.rows(
                url,
                """
                SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock'
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """
            )
            return rows.first.flatMap { Int($0[0]) } ?? 0
        }
    }

    func kekIDs(_ encryptedKeys: [UInt8]) throws -> [String] {
        try #require(KeysBlob(parsing: encryptedKeys)).entries.filter { $0.kind == .vault }.map(\.kekID)
    }

    // MARK: The store lock

    @Test func aFailedOpenAndARootKeyRotationLetTheStoreLockGoAtOnce() async throws {
        let database = try await SharedDatabase()
        defer { database.remove() }
        let first = try await database.open()
        _ = try await first.createDataKey(context: context, environmentID: env)
        await first.close()

        // Another root key: the open fails (the root-key check), and its lock goes with it.
        var wrongKey = database.configuration
        wrongKey.rootKey = .base64(Data(repeating: 9, count: 32).base64EncodedString())
        await #expect(throws: LocalVaultError.self) {
            _ = try await LocalVault.open(databaseURL: database.url, configuration: wrongKey)
        }
        try await database.openExclusivelyAtOnce().close()

        // A rotation holds the lock exclusively only while it runs.
        _ = try await LocalVault.rotateRootKey(databaseURL: database.url, configuration: database.configuration)
        try await database.openExclusivelyAtOnce().close()
    }

    @Test func anExclusiveOpenIsRefusedWhileAnotherVaultHasTheDatabaseOpenAndBlocksOpensMeanwhile() async throws {
        let database = try await SharedDatabase()
        defer { database.remove() }
        let shared = try await database.open()
        _ = try await shared.createDataKey(context: context, environmentID: env)
        let keyBefore = try Data(contentsOf: URL(fileURLWithPath: database.directory + "/root.key"))

        let refused = await #expect(throws: LocalVaultError.self) { try await database.openExclusively() }
        #expect(refused?.message.contains("is open in another process (a running vault serve?): stop it first") == true)
        await #expect(throws: LocalVaultError.self) {
            try await LocalVault.rotateRootKey(databaseURL: database.url, configuration: database.configuration)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: database.directory + "/root.key")) == keyBefore)

        await shared.close()
        let exclusive = try await database.openExclusively()
        let blocked = await #expect(throws: LocalVaultError.self) {
            try await LocalVault.open(
                databaseURL: database.url,
                configuration: database.configuration,
                use: .shared,
                lockWait: .seconds(1)
            )
        }
        #expect(blocked?.message.contains("stayed locked by an admin command") == true)
        await #expect(throws: LocalVaultError.self) { try await database.openExclusively() }
        withExtendedLifetime(exclusive) {}
    }

    @Test func twoVaultsShareTheDatabaseAndAReleasedExclusiveOneLetsThemOpen() async throws {
        let database = try await SharedDatabase()
        defer { database.remove() }
        let exclusive = try await database.openExclusively()
        _ = try await exclusive.createDataKey(context: context, environmentID: env)
        await exclusive.close()
        let first = try await database.open()
        let second = try await database.open()
        #expect(try await database.sharedStoreLocks() == 2)
        let issued = try await first.createDataKey(context: context, environmentID: env)
        #expect(
            try await second.decryptDataKey(encryptedKeys: issued.encryptedKeys, environmentID: env).key == issued.key
        )
        withExtendedLifetime((first, second)) {}
    }

    @Test func aVaultTakesItsSharedLockAgainWhenItsConnectionIsLost() async throws {
        let database = try await SharedDatabase()
        defer { database.remove() }
        let vault = try await database.open()
        #expect(try await database.sharedStoreLocks() == 1)

        _ = try await TestDatabase.rows(
            database.url,
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
            """
        )
        var locks = 0
        for _ in 0..<120 where locks == 0 {
            try await Task.sleep(for: .milliseconds(250))
            locks = try await database.sharedStoreLocks()
        }
        #expect(locks == 1, "the lock is taken again on a new connection")
        await #expect(throws: LocalVaultError.self) { try await database.openExclusively() }
        _ = try await vault.createDataKey(context: context, environmentID: env)
        withExtendedLifetime(vault) {}
    }

    // MARK: The KEK cache's time to live

    @Test func aPostgreSQLOpenDefaultsTheKEKCacheTTLUnlessItIsSet() {
        var unset = LocalVaultConfiguration(dataDirectory: "/nonexistent")
        #expect(unset.kekCacheTTL == nil)
        unset.defaultKEKCacheTTL(to: LocalVaultConfiguration.sharedStoreKEKCacheTTL)
        #expect(unset.kekCacheTTL == .seconds(60))
        var forever = LocalVaultConfiguration(dataDirectory: "/nonexistent")
        forever.kekCacheTTL = nil
        forever.defaultKEKCacheTTL(to: .seconds(60))
        #expect(forever.kekCacheTTL == nil)
    }

    @Test func anotherVaultWrapsUnderTheNewVersionOnceTheKEKCacheTTLHasPassed() async throws {
        let database = try await SharedDatabase(kekCacheTTL: .seconds(1))
        defer { database.remove() }
        let rotating = try await database.open()
        let other = try await database.open()
        let before = try await other.createDataKey(context: context, environmentID: env)
        let oldID = try #require(try kekIDs(before.encryptedKeys).first)

        let rotated = try await rotating.rotateKEKs(context: context, environmentID: env)
        #expect(rotated.map(\.version) == [2])
        try await Task.sleep(for: .milliseconds(1_500))

        let after = try await other.createDataKey(context: context, environmentID: env)
        let newID = try #require(try kekIDs(after.encryptedKeys).first)
        #expect(newID != oldID)
        #expect(try await database.kekVersion(id: newID) == 2)
        #expect(
            try await other.decryptDataKey(encryptedKeys: before.encryptedKeys, environmentID: env).key == before.key
        )
    }

    @Test func aVersionRetiredByAnotherVaultStopsUnwrappingOnceTheKEKCacheTTLHasPassed() async throws {
        let database = try await SharedDatabase(kekCacheTTL: .seconds(1))
        defer { database.remove() }
        let retiring = try await database.open()
        let other = try await database.open()
        let blob = try await other.createDataKey(context: context, environmentID: env)
        #expect(try await other.decryptDataKey(encryptedKeys: blob.encryptedKeys, environmentID: env).key == blob.key)

        _ = try await retiring.rotateKEKs(context: context, environmentID: env)
        let retired = try await retiring.retireKEKVersions(
            contextKey: "organization_id",
            contextValue: "org_1",
            below: 2,
            environmentID: env
        )
        #expect(retired == .retired(count: 1))
        try await Task.sleep(for: .milliseconds(1_500))

        let error = await #expect(throws: LocalVaultError.self) {
            try await other.decryptDataKey(encryptedKeys: blob.encryptedKeys, environmentID: env)
        }
        #expect(error == LocalVaultError.foreignKeys)
        let fresh = try await other.createDataKey(context: context, environmentID: env)
        #expect(try await database.kekVersion(id: try #require(try kekIDs(fresh.encryptedKeys).first)) == 2)
        withExtendedLifetime(retiring) {}
    }
}
