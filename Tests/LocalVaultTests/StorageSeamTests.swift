import EnvelopeCrypto
import Foundation
import GRDB
import Testing
import VaultAPI

@testable import LocalVault

/// The engine on ``VaultStorage``: the async open that other backends use, and the rules the
/// storage protocol moved (idempotency expiry in the purge, one name-search rule).
@Suite struct StorageSeamTests {
    static let env = LocalVault.defaultEnvironmentID

    @Test("a vault opened on a storage checks its root key against it and serves its objects")
    func openOnAStorage() async throws {
        let temporary = try await TemporaryVault(.sqlite)
        let created = try await temporary.vault.createObject(
            name: "n",
            value: "v",
            context: ["k": "v"],
            caller: .alice
        )
        let configuration = LocalVaultConfiguration(
            dataDirectory: temporary.directory,
            rootKey: .file(temporary.directory + "/root.key"),
            purgesInBackground: false
        )
        let storage = try SQLiteStorage.opened(in: temporary.directory)
        let vault = try await LocalVault.open(
            storage: storage,
            configuration: configuration,
            storeDescription: "test store"
        )
        #expect(try await vault.readObject(id: created.id, environmentID: Self.env).value == "v")

        var wrongKey = configuration
        wrongKey.rootKey = .base64(try DataKey.generate().base64EncodedString())
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await LocalVault.open(storage: storage, configuration: wrongKey, storeDescription: "test store")
        }
        #expect(error?.rule == .rootKey)
        #expect(error?.message.contains("the root key does not match the store in test store") == true)
    }

    @Test("the purge deletes the idempotency records older than the replay window, and only those")
    func purgeExpiresIdempotencyRecords() async throws {
        let temporary = try await TemporaryVault(.sqlite)
        let vault = temporary.vault
        let old = Date().addingTimeInterval(-LocalVault.idempotencyWindow - 60)
        #expect(try await vault.claimIdempotencyKey(scope: "s", key: "old", requestHash: "h", now: old) == .claimed)
        try await vault.completeIdempotencyKey(scope: "s", key: "old", status: 201, body: Array("{}".utf8))
        #expect(try await vault.claimIdempotencyKey(scope: "s", key: "new", requestHash: "h") == .claimed)
        try await vault.purgeDueObjects()
        let keys = try await vault.store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT key FROM idempotency_keys ORDER BY key")
        }
        #expect(keys == ["new"])
    }

    @Test(
        "the name search ignores the case of ASCII letters only, and takes % and _ as themselves",
        arguments: TestBackend.allCases
    )
    func nameSearchRule(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        for name in ["Alpha_one", "alphaXone", "ÄLPHA", "äLPHA", "100%"] {
            _ = try await vault.createObject(name: name, value: "v", context: ["k": "v"], caller: .alice)
        }
        func names(_ search: String) async throws -> Set<String> {
            let page = try await vault.listObjects(
                ListObjectsQuery(limit: 100, search: search),
                environmentID: Self.env
            )
            return Set(page.data.map(\.name))
        }
        #expect(try await names("ALPHA") == ["Alpha_one", "alphaXone"])
        #expect(try await names("a_o") == ["Alpha_one"])
        #expect(try await names("%") == ["100%"])
        #expect(try await names("älpha") == ["äLPHA"])
    }
}
