import LocalVault
import Testing

@testable import WorkOSVault

/// The embedded vault's storage failures reach the client as ``VaultError``, never as the
/// storage's own error type.
@Suite struct EmbeddedStorageFailureTests {
    @Test("an unavailable store is a server error with status 503; a full disk names itself")
    func storageFailuresAreVaultErrors() async {
        let unavailable = await #expect(throws: VaultError.self) {
            _ = try await embedded { () async throws -> Int in throw StorageError.unavailable("SQLite 5") }
        }
        #expect(unavailable?.code == .serverError)
        #expect(unavailable?.httpStatus == 503)
        let full = await #expect(throws: VaultError.self) {
            _ = try await embedded { () async throws -> Int in throw StorageError.diskFull("SQLite 13") }
        }
        #expect(full?.message.hasPrefix("disk full") == true)
        await #expect(throws: CancellationError.self) {
            _ = try await embedded { () async throws -> Int in throw CancellationError() }
        }
    }
}
