import LocalVault
import Logging
import ServiceLifecycle
import UnixSignals

/// Where `vault serve` reads its API keys and customer-managed keys (BYOK), at start and again
/// on SIGHUP.
public struct KeySources: Sendable {
    /// Reads the accepted API keys (for `vault serve`: `$VAULT_API_KEYS` and `--api-keys-file`).
    public var apiKeys: @Sendable () throws -> APIKeyRing
    /// Reads the customer key mappings (for `vault serve`: `--customer-keys`).
    public var customerKeys: @Sendable () throws -> [CustomerKeyMapping]

    public init(
        apiKeys: @escaping @Sendable () throws -> APIKeyRing,
        customerKeys: @escaping @Sendable () throws -> [CustomerKeyMapping]
    ) {
        self.apiKeys = apiKeys
        self.customerKeys = customerKeys
    }
}

/// Reloads the API keys and the customer keys on SIGHUP. Both are read first and put in force
/// only if both read well: a bad file is refused with a log line (naming the file and line, never
/// a key) and the configuration in force stays. Requests in flight are not disturbed; those that
/// arrive after the reload use the new keys. An organization's cloud customer key taken out of
/// force is recorded as `vault.byok_key.deleted` (see ``reload()``).
struct ConfigurationReloadService: Service {
    let sources: KeySources
    let apiKeys: ReloadableAPIKeys
    let vault: LocalVault
    let logger: Logger
    /// Trapped before the server starts listening, so that a SIGHUP never finds the default
    /// action (ending the process) once clients can connect.
    private let signals: UnixSignalsSequence

    init(sources: KeySources, apiKeys: ReloadableAPIKeys, vault: LocalVault, logger: Logger) async {
        self.sources = sources
        self.apiKeys = apiKeys
        self.vault = vault
        self.logger = logger
        signals = await UnixSignalsSequence(trapping: .sighup)
    }

    func run() async {
        for await _ in signals.cancelOnGracefulShutdown() {
            await reload()
        }
    }

    /// Reads both sources and puts them in force, or neither; then records
    /// `vault.byok_key.deleted` for each organization's cloud key taken out of force, in every
    /// environment of the API keys now in force (where `GET /events` can list it).
    /// - Returns: whether the new configuration is in force.
    @discardableResult
    func reload() async -> Bool {
        let ring: APIKeyRing
        let mappings: [CustomerKeyMapping]
        do {
            ring = try sources.apiKeys()
            mappings = try sources.customerKeys()
        } catch {
            logger.error(
                "configuration reload refused: the API keys and customer keys in force stay",
                metadata: ["error": "\(error)"]
            )
            return false
        }
        apiKeys.replace(with: ring)
        let removed = vault.replaceCustomerKeys(mappings)
        do {
            try await vault.recordCustomerKeysDeleted(removed, environmentIDs: Set(ring.keys.map(\.environmentID)))
        } catch {
            // The keys are out of force all the same: an audit failure must not keep a revoked key usable.
            logger.error(
                "recording vault.byok_key.deleted failed",
                metadata: ["error": "\(LocalVaultError(storageFailure: error)?.message ?? "\(type(of: error))")"]
            )
        }
        // Last: once it is logged, the reload's events are listed too.
        logger.notice(
            "configuration reloaded",
            metadata: [
                "api_keys": "\(ring.keys.count)", "customer_keys": "\(mappings.count)",
                "customer_keys_removed": "\(removed.count)",
            ]
        )
        return true
    }
}
