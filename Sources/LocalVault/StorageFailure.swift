extension LocalVaultError {
    /// The engine error for a failure of the storage itself; `nil` if `error` is not one. A full
    /// disk keeps rule ``Rule-swift.enum/diskFull``; a store that cannot be reached (busy past its
    /// timeout, a database down) is ``Kind-swift.enum/unavailable`` (503, retryable). The message
    /// holds the database's code, never SQL or values.
    ///
    /// The engine's storage calls throw the storage's errors; the server answers and logs them
    /// through this, so that an operator reads "disk full" rather than a type name.
    public init?(storageFailure error: any Error) {
        guard let failure = error as? StorageError ?? SQLiteStorage.storageError(for: error) else { return nil }
        switch failure {
        case .diskFull(let code):
            self.init(
                .internalError,
                "disk full: the store cannot grow (\(code)); free space on its volume",
                rule: .diskFull
            )
        case .unavailable(let code):
            self.init(.unavailable, "the store is unavailable, retry later (\(code))")
        case .failed(let code):
            self.init(.internalError, "storage failure (\(code))")
        }
    }
}
