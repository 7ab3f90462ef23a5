import GRDB

extension SQLiteStorage {
    /// The storage error a GRDB error stands for; nil for any other error. The text is SQLite's
    /// extended result code, never SQL or values.
    ///
    /// `SQLITE_FULL` is what SQLite answers when a write meets `ENOSPC` (and a database at its
    /// `max_page_count`); a shared-memory file that cannot grow is the same condition in WAL
    /// mode. `SQLITE_BUSY` and `SQLITE_LOCKED` reach here only after the busy timeout: another
    /// process held the store that long, and a retry may find it free.
    static func storageError(for error: any Error) -> StorageError? {
        guard let error = error as? DatabaseError else { return nil }
        let code = "SQLite \(error.extendedResultCode.rawValue)"
        if error.resultCode == .SQLITE_FULL || error.extendedResultCode == .SQLITE_IOERR_SHMSIZE {
            return .diskFull(code)
        }
        if error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED { return .unavailable(code) }
        return .failed(code)
    }

    /// `error` as a ``StorageError`` when GRDB threw it; any other error (the engine's own,
    /// thrown inside a transaction) as it is.
    static func mapped(_ error: any Error) -> any Error { VaultMetrics.counted(storageError(for: error) ?? error) }
}

extension DatabaseError {
    var isUniqueConstraintViolation: Bool { extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE }
}
