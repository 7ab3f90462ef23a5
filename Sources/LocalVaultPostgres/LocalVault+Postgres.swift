import LocalVault

extension LocalVault {
    /// Opens a vault whose store is a PostgreSQL database, which several processes (`vault serve`
    /// instances) may share: every rule that must hold across them (one KEK per pair and version,
    /// one winner among concurrent updates with the same `version_check`, names held by deleted
    /// objects, durable idempotency records, one purge at a time) is enforced by the database.
    ///
    /// The schema is created or migrated on open (once, when instances start at the same time).
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
    ///   connection is made within ten seconds; the root-key errors of any open.
    public static func open(databaseURL: String, configuration: LocalVaultConfiguration) async throws -> LocalVault {
        let url = try PostgresDatabaseURL(parsing: databaseURL)
        let storage = try await PostgresStorage(url: url)
        return try await open(storage: storage, configuration: configuration, storeDescription: url.redactedDescription)
    }
}

extension LocalVault {
    /// Replaces the root key of a PostgreSQL store with a new random one, as
    /// ``LocalVault/rotateRootKey(configuration:newKeyFile:)`` does for a data folder: every KEK
    /// re-wrapped and every stored response re-sealed in one transaction, the new key written
    /// first (to `root.key.next`, or to `newKeyFile` for a root key from `VAULT_ROOT_KEY`).
    ///
    /// Stop every `vault serve` on the database first: an instance that keeps running holds the
    /// old key and could not open KEKs created under the new one.
    /// - Throws: ``LocalVaultError``, as ``open(databaseURL:configuration:)`` and the rotation.
    public static func rotateRootKey(
        databaseURL: String,
        configuration: LocalVaultConfiguration,
        newKeyFile: String? = nil
    ) async throws -> RootKeyRotationReport {
        let url = try PostgresDatabaseURL(parsing: databaseURL)
        let storage = try await PostgresStorage(url: url)
        return try await rotateRootKey(
            storage: storage,
            configuration: configuration,
            newKeyFile: newKeyFile,
            storeDescription: url.redactedDescription
        )
    }
}
