import EnvelopeCrypto
import Foundation
import InMemoryLogging
import LocalVault
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The store's files are private (0600) whatever the umask; key files that others can read are
/// reported at start.
@Suite(.serialized) struct StoreFileModeTests {
    static func mode(_ path: String) -> mode_t? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return status.st_mode & 0o777
    }

    @Test("vault.sqlite, -wal and -shm are created 0600 under the usual umask (022)")
    func newStoreFilesArePrivate() async throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        let temporary = try await TemporaryVault(.sqlite)
        _ = try await temporary.vault.createDataKey(context: ["k": "v"], environmentID: LocalVault.defaultEnvironmentID)
        for suffix in ["", "-wal", "-shm"] {
            let path = temporary.directory + "/vault.sqlite" + suffix
            #expect(Self.mode(path) == 0o600, "\(path)")
        }
    }

    @Test("a store created with open modes is narrowed to 0600 when opened")
    func existingStoreFilesAreNarrowed() async throws {
        let fixture = try LegacyStoreFixture()
        chmod(fixture.directory + "/vault.sqlite", 0o644)
        let vault = try fixture.open()
        _ = try await vault.createDataKey(context: ["k": "v"], environmentID: LocalVault.defaultEnvironmentID)
        for suffix in ["", "-wal", "-shm"] {
            #expect(Self.mode(fixture.directory + "/vault.sqlite" + suffix) == 0o600)
        }
    }

    @Test("a root key or customer key file readable by group or others is warned about at start")
    func sharedKeyFilesAreReported() async throws {
        let temporary = try await TemporaryVault(.sqlite)
        let keyPath = temporary.directory + "/cmk.key"
        try Data(try DataKey.generate().base64EncodedString().utf8).write(to: URL(fileURLWithPath: keyPath))
        chmod(keyPath, 0o640)
        chmod(temporary.directory + "/root.key", 0o604)
        let handler = InMemoryLogHandler()
        _ = try LocalVault(
            configuration: LocalVaultConfiguration(
                dataDirectory: temporary.directory,
                rootKey: .file(temporary.directory + "/root.key"),
                customerKeys: [CustomerKeyTests.mapping(path: keyPath)],
                logger: Logger(label: "test", factory: { _ in handler })
            )
        )
        let warnings = handler.entries.filter { $0.level == .warning }
        #expect(warnings.count == 2)
        let paths = Set(warnings.compactMap { $0.metadata["path"].map { "\($0)" } })
        #expect(paths == [keyPath, temporary.directory + "/root.key"])

        chmod(keyPath, 0o600)
        chmod(temporary.directory + "/root.key", 0o600)
        let quiet = InMemoryLogHandler()
        _ = try LocalVault(
            configuration: LocalVaultConfiguration(
                dataDirectory: temporary.directory,
                rootKey: .file(temporary.directory + "/root.key"),
                customerKeys: [CustomerKeyTests.mapping(path: keyPath)],
                logger: Logger(label: "test", factory: { _ in quiet })
            )
        )
        #expect(quiet.entries.filter { $0.level == .warning }.isEmpty)
    }
}
