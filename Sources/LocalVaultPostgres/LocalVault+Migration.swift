import LocalVault

extension LocalVault {
    /// Copies the SQLite store of a data folder into an empty PostgreSQL database, under the same
    /// root key, then verifies the copy (`vault migrate`).
    ///
    /// Every row moves as it is, in batches (one transaction each, bounded memory): KEK versions
    /// (retired and quarantined ones too), objects with all their versions (deleted objects keep
    /// their name hold and purge instant), durable idempotency records, and the root-key check.
    /// Nothing is re-encrypted. Then the database is opened with the same root key and every live
    /// object of every environment is read from both stores and compared (value and metadata),
    /// and the row counts of every table are compared.
    ///
    /// The source is left as it is (a store of an older build is first brought to the current
    /// schema, as any open does). It is held exclusively meanwhile: stop `vault serve` on it
    /// first. Start `vault serve --database` only once the migration has succeeded. A failed copy
    /// or verification leaves the database partly filled: drop it, create it again, and rerun.
    /// - Parameters:
    ///   - fromDataDirectory: the folder holding `vault.sqlite`.
    ///   - toDatabaseURL: as ``open(databaseURL:configuration:)``; the database must be empty.
    ///   - configuration: the source's root key (and customer keys, to read their objects);
    ///     by default `VAULT_ROOT_KEY`, else `root.key` in `fromDataDirectory`. Its data
    ///     directory is replaced by `fromDataDirectory`.
    ///   - progress: called after each batch copied and each batch of objects verified.
    /// - Returns: rows copied per table and objects verified.
    /// - Throws: ``LocalVaultError``: no store in the folder, the store in use, a root key that
    ///   does not open it (rule `rootKey`), an unreachable database, a database that is not empty
    ///   (nothing written), a failed copy or verification.
    public static func migrate(
        fromDataDirectory: String,
        toDatabaseURL: String,
        configuration: LocalVaultConfiguration? = nil,
        progress: (StoreMigrationProgress) -> Void = { _ in }
    ) async throws -> StoreMigrationReport {
        var configuration = configuration ?? LocalVaultConfiguration(dataDirectory: fromDataDirectory)
        configuration.dataDirectory = fromDataDirectory
        let url = try PostgresDatabaseURL(parsing: toDatabaseURL)
        let destination = try await PostgresStorage(url: url)
        return try await migrateStore(
            configuration: configuration,
            to: destination,
            destinationDescription: url.redactedDescription,
            progress: progress
        )
    }
}
