import CoreMetrics

/// The engine's counters, through swift-metrics: no-ops until the process bootstraps
/// `MetricsSystem` (as `vault serve --metrics` does, before it opens the vault; a counter made
/// before the bootstrap stays a no-op). Counts only: never a name, id, context or key.
public enum VaultMetrics {
    /// Data keys issued: one per `POST /keys/data-key` and one per object version written.
    static let dataKeysIssued = Counter(label: "vault_data_keys_issued_total")
    /// KEKs created: the first of a context pair, and each rotation's new version.
    static let firstKEKsCreated = Counter(label: "vault_keks_created_total", dimensions: [("reason", "first")])
    static let rotatedKEKsCreated = Counter(label: "vault_keks_created_total", dimensions: [("reason", "rotation")])
    /// KEK lookups answered from this process's cache, and those that went to the store.
    static let kekCacheHits = Counter(label: "vault_kek_cache_hits_total")
    static let kekCacheMisses = Counter(label: "vault_kek_cache_misses_total")

    /// Failures of the store (``StorageError``), by kind: `unavailable` (503s), `disk_full`, `failed`.
    private static let storageUnavailable = Counter(
        label: "vault_storage_errors_total",
        dimensions: [("kind", "unavailable")]
    )
    private static let storageDiskFull = Counter(
        label: "vault_storage_errors_total",
        dimensions: [("kind", "disk_full")]
    )
    private static let storageFailed = Counter(label: "vault_storage_errors_total", dimensions: [("kind", "failed")])

    /// Counts `error` when it is a failure of the store, and returns it: a backend writes
    /// `throw VaultMetrics.counted(mappedError)` where it maps its database's errors.
    package static func counted(_ error: any Error) -> any Error {
        switch error as? StorageError {
        case .unavailable: storageUnavailable.increment()
        case .diskFull: storageDiskFull.increment()
        case .failed: storageFailed.increment()
        case nil: break
        }
        return error
    }
}
