import LocalVault

extension LocalVault {
    /// Opens a vault whose store is a PostgreSQL database, which several processes (`vault serve`
    /// instances) may share: every rule that must hold across them (one KEK per pair and version,
    /// one winner among concurrent updates with the same `version_check`, names held by deleted
    /// objects, durable idempotency records, one purge at a time) is enforced by the database.
    ///
    /// The schema is created or migrated on open (once, when instances start at the same time).
    ///
    /// The vault holds the database's store lock shared for as long as it lives (an advisory
    /// lock on a connection of its own, taken again if that connection is lost): an
    /// ``openExclusively(databaseURL:configuration:)`` elsewhere is refused meanwhile, and while
    /// one holds the database this open waits up to 30 seconds, then fails.
    ///
    /// KEKs are cached for ``LocalVaultConfiguration/kekCacheTTL``, 60 seconds unless set: a KEK
    /// version added or retired by another process is seen within that time.
    /// - Parameters:
    ///   - databaseURL: `postgres://user[:password]@host[:port]/database[?sslmode=...&sslrootcert=FILE]`
    ///     (also `postgresql://`): a loopback host is reached without TLS unless `sslmode` says
    ///     otherwise, any other host with TLS verified (`verify-full`); `require` verifies the
    ///     certificate chain but not the host name; `sslrootcert` names the PEM file of the
    ///     certificates that sign the server's (the system's roots otherwise).
    ///   - configuration: the root key, customer keys and purge settings; its data directory holds
    ///     no store here.
    /// - Throws: ``LocalVaultError``: `invalidRequest` for a URL that breaks the rules above;
    ///   `internalError` "cannot reach the database at <url without password>: <why>" when no
    ///   connection is made within ten seconds; `internalError` when an admin command holds the
    ///   database past 30 seconds; the root-key errors of any open.
    public static func open(databaseURL: String, configuration: LocalVaultConfiguration) async throws -> LocalVault {
        try await open(databaseURL: databaseURL, configuration: configuration, use: .shared)
    }

    /// Opens a vault on a PostgreSQL database holding its store lock exclusively: refused while
    /// any other vault (in this process or another, such as a running `vault serve`) has the
    /// database open, and no other can open it until this one is released. The `vault admin`
    /// commands use it, as ``openExclusively(configuration:)`` on a data folder.
    /// - Throws: ``LocalVaultError`` as ``open(databaseURL:configuration:)``, or (internalError)
    ///   "the database at <url> is open in another process (a running vault serve?): stop it first".
    public static func openExclusively(
        databaseURL: String,
        configuration: LocalVaultConfiguration
    ) async throws -> LocalVault {
        try await open(databaseURL: databaseURL, configuration: configuration, use: .exclusive)
    }

    /// The open of both uses; `lockWait` (tests) bounds the wait for a conflicting holder.
    package static func open(
        databaseURL: String,
        configuration: LocalVaultConfiguration,
        use: PostgresStoreUse,
        lockWait: Duration? = nil
    ) async throws -> LocalVault {
        let url = try PostgresDatabaseURL(parsing: databaseURL)
        let storage = try await PostgresStorage(url: url, use: use, lockWait: lockWait, logger: configuration.logger)
        var configuration = configuration
        // Several processes share the store: a KEK version one adds or retires must reach the others.
        configuration.defaultKEKCacheTTL(to: LocalVaultConfiguration.sharedStoreKEKCacheTTL)
        return try await releasingOnFailure(storage) {
            try await open(storage: storage, configuration: configuration, storeDescription: url.redactedDescription)
        }
    }

    /// `body`'s result; when it throws (a wrong root key, say), `storage` is shut down first, so
    /// that its store lock and connections go at once rather than whenever it is freed.
    static func releasingOnFailure<Result>(
        _ storage: PostgresStorage,
        _ body: () async throws -> Result
    ) async throws -> Result {
        do {
            return try await body()
        } catch {
            await storage.shutDown()
            throw error
        }
    }
}

extension LocalVault {
    /// Replaces the root key of a PostgreSQL store with a new random one, as
    /// ``LocalVault/rotateRootKey(configuration:newKeyFile:)`` does for a data folder: every KEK
    /// re-wrapped and every stored response re-sealed in one transaction, the new key written
    /// first (to `root.key.next`, or to `newKeyFile` for a root key from `VAULT_ROOT_KEY`).
    ///
    /// It holds the database's store lock exclusively, as ``openExclusively(databaseURL:configuration:)``:
    /// refused while any vault has the database open (stop every `vault serve` on it first: an
    /// instance that kept running would hold the old key and could not open KEKs created under
    /// the new one).
    /// - Throws: ``LocalVaultError``, as ``openExclusively(databaseURL:configuration:)`` and the rotation.
    public static func rotateRootKey(
        databaseURL: String,
        configuration: LocalVaultConfiguration,
        newKeyFile: String? = nil
    ) async throws -> RootKeyRotationReport {
        let url = try PostgresDatabaseURL(parsing: databaseURL)
        let storage = try await PostgresStorage(url: url, use: .exclusive, logger: configuration.logger)
        let report = try await releasingOnFailure(storage) {
            try await rotateRootKey(
                storage: storage,
                configuration: configuration,
                newKeyFile: newKeyFile,
                storeDescription: url.redactedDescription
            )
        }
        // The exclusive lock goes now, not when the storage is freed: the next command may open at once.
        await storage.shutDown()
        return report
    }
}
