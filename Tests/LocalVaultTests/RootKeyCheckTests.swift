import EnvelopeCrypto
import Foundation
import InMemoryLogging
import LocalVault
import Logging
import Testing
import VaultAPI

/// The store and its root key are checked against each other: a store refuses a root key it was
/// not written under, and a store that holds data never gets a new root key.
@Suite struct RootKeyCheckTests {
    let env = LocalVault.defaultEnvironmentID

    func expectRootKeyRefusal(
        _ message: String,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ open: () async throws -> LocalVault
    ) async {
        do {
            _ = try await open()
            Issue.record("the vault opened", sourceLocation: sourceLocation)
        } catch let error as LocalVaultError {
            #expect(error.rule == .rootKey, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(message), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("another root key is refused, from a file or from VAULT_ROOT_KEY", arguments: TestBackend.allCases)
    func anotherRootKeyIsRefused(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let issued = try await temporary.vault.createDataKey(context: ["organization_id": "org_1"], environmentID: env)
        let original = try Data(contentsOf: URL(fileURLWithPath: temporary.directory + "/root.key"))
        let other = try DataKey.generate()
        await expectRootKeyRefusal("the root key does not match the store") {
            try await temporary.openAnother(rootKey: .base64(other.base64EncodedString()))
        }
        try Data(other.base64EncodedString().utf8).write(to: URL(fileURLWithPath: temporary.directory + "/root.key"))
        await expectRootKeyRefusal("the root key does not match the store") {
            try await temporary.reopen()
            return temporary.vault
        }
        // The right key still opens it.
        let reopened = try await temporary.openAnother(rootKey: .base64(original.base64EncodedString()))
        #expect(
            try await reopened.decryptDataKey(encryptedKeys: issued.encryptedKeys, environmentID: env).key == issued.key
        )
    }

    @Test("a store that holds data never gets a new root key file", arguments: TestBackend.allCases)
    func missingRootKeyIsNotRecreated(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        _ = try await temporary.vault.createDataKey(context: ["organization_id": "org_1"], environmentID: env)
        let keyPath = temporary.directory + "/root.key"
        try FileManager.default.removeItem(atPath: keyPath)
        await expectRootKeyRefusal("root key file \(keyPath) is missing") {
            try await temporary.reopen()
            return temporary.vault
        }
        #expect(!FileManager.default.fileExists(atPath: keyPath))
    }

    @Test("a store from before the check accepts only its own root key, then records the check")
    func legacyStoreIsCheckedAgainstItsKEKs() async throws {
        let fixture = try LegacyStoreFixture()
        await expectRootKeyRefusal("the root key does not match the store") {
            try fixture.open(rootKey: .base64(try DataKey.generate().base64EncodedString()))
        }
        let vault = try fixture.open()
        let stored = try #require(fixture.cases["managed-staging"])
        #expect(try await vault.readObject(id: stored.id, environmentID: stored.environment_id).value == stored.value)
        // The check is now in the store: a root key file replaced by another is refused.
        try Data(try DataKey.generate().base64EncodedString().utf8)
            .write(to: URL(fileURLWithPath: fixture.directory + "/root.key"))
        await expectRootKeyRefusal("the root key does not match the store") { try fixture.open() }
    }

    @Test("creating a new store and root key is logged once, at notice, with the path")
    func creationIsLogged() throws {
        let handler = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in handler })
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lv-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = LocalVaultConfiguration(
            dataDirectory: directory,
            rootKey: .file(directory + "/root.key"),
            logger: logger
        )
        _ = try LocalVault(configuration: configuration)
        _ = try LocalVault(configuration: configuration)
        let notices = handler.entries.filter { $0.level == .notice }
        #expect(notices.count == 1)
        #expect(notices.first.map { "\($0.message)" } == "created a new vault store and root key")
        #expect(notices.first?.metadata["data_dir"].map { "\($0)" } == directory)
        let rootKey = try Data(contentsOf: URL(fileURLWithPath: directory + "/root.key"))
        let everything = handler.entries.map { "\($0.message) \($0.metadata)" }.joined()
        #expect(!everything.contains(rootKey.base64EncodedString()))
    }
}
