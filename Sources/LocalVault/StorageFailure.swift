import GRDB

extension LocalVaultError {
    /// The engine error for a failure of the SQLite store, naming a full disk as such; `nil` if
    /// `error` is not a storage error. The message holds SQLite's result code, never SQL or values.
    ///
    /// The engine's storage calls throw GRDB's errors; the server logs server faults through this
    /// so that an operator reads "disk full" rather than a type name.
    public init?(storageFailure error: any Error) {
        guard let error = error as? DatabaseError else { return nil }
        if Self.meansDiskFull(error) {
            self.init(
                .internalError,
                "disk full: the store cannot grow (SQLite \(error.extendedResultCode.rawValue)); free space on its volume",
                rule: .diskFull
            )
        } else {
            self.init(.internalError, "storage failure (SQLite \(error.extendedResultCode.rawValue))")
        }
    }

    /// `SQLITE_FULL` is what SQLite answers when a write meets `ENOSPC` (and a database at its
    /// `max_page_count`); a shared-memory file that cannot grow is the same condition in WAL mode.
    private static func meansDiskFull(_ error: DatabaseError) -> Bool {
        error.resultCode == .SQLITE_FULL || error.extendedResultCode == .SQLITE_IOERR_SHMSIZE
    }
}
