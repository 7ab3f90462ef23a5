extension LocalVault {
    /// Returns once the store answers a trivial read (for `GET /health`); the caller bounds the wait.
    /// - Throws: the store's failure (such as `StorageError.unavailable`, a 503).
    public func checkStoreAvailable() async throws {
        try await storage.checkAvailable()
    }
}
