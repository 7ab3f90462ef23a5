import Testing

@testable import LocalVault
@testable import LocalVaultServer

/// A store out of reach is a 503 the client may retry; a full disk stays a 500 without details.
@Suite struct UnavailableStoreTests {
    @Test("a storage error from the engine maps to 503 when the store is unavailable, else to a 500")
    func storageErrorsMap() {
        let unavailable = ErrorMapping.apiError(for: StorageError.unavailable("SQLite 5"))
        #expect(unavailable.error.status.code == 503)
        #expect(unavailable.error.code == "service_unavailable")
        #expect(!unavailable.error.message.contains("SQLite"))
        #expect(unavailable.isServerFault)
        let engine = ErrorMapping.apiError(for: LocalVaultError(storageFailure: StorageError.unavailable("x"))!)
        #expect(engine.error.status.code == 503)
        let full = ErrorMapping.apiError(for: StorageError.diskFull("SQLite 13"))
        #expect(full.error == .serverFault)
        #expect(full.isServerFault)
    }
}
