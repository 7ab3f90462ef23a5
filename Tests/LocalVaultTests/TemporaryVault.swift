import Foundation
import LocalVault
import LocalVaultPostgres
import VaultAPI

/// A vault on a new, empty store of one backend, with its root key in a fresh temporary folder
/// that is removed when the value is released. For SQLite that folder also holds the store.
// @unchecked: `reopen()` and `whileClosed(_:)` replace the vault; a test calls them from its own
// task only, never while another task of it uses the value.
final class TemporaryVault: @unchecked Sendable {
    let backend: TestBackend
    /// The root key file (`root.key`) and, for SQLite, the store.
    let directory: String
    /// How the vault was opened: `reopen()` and `openAnother(rootKey:)` open the same store with it.
    private(set) var configuration: LocalVaultConfiguration
    /// The PostgreSQL database of this value alone (dropped on release); nil for SQLite.
    let databaseURL: String?
    // Only nil inside `whileClosed(_:)`.
    private var opened: LocalVault?

    var vault: LocalVault { opened! }

    init(
        _ backend: TestBackend,
        customerKeys: [CustomerKeyMapping] = [],
        purgeDelay: Duration = LocalVaultConfiguration.defaultPurgeDelay,
        purgesInBackground: Bool = true,
        recordsEvents: Bool = false
    ) async throws {
        self.backend = backend
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("localvault-tests-\(UUID().uuidString)").path
        (configuration, databaseURL) = try await backend.freshStore(directory: directory)
        configuration.customerKeys = customerKeys
        configuration.purgeDelay = purgeDelay
        configuration.purgesInBackground = purgesInBackground
        configuration.recordsEvents = recordsEvents
        opened = try await backend.open(configuration, databaseURL: databaseURL)
    }

    /// Opens the same store again, as a restart would.
    func reopen(customerKeys: [CustomerKeyMapping] = []) async throws {
        configuration.customerKeys = customerKeys
        opened = try await backend.open(configuration, databaseURL: databaseURL)
    }

    /// A second vault on the same store (another process, in effect), optionally with another root key.
    func openAnother(rootKey: RootKeySource? = nil) async throws -> LocalVault {
        var another = configuration
        if let rootKey { another.rootKey = rootKey }
        return try await backend.open(another, databaseURL: databaseURL)
    }

    /// Rotates the store's root key while no vault of this value is open, as the offline admin
    /// command does, then reopens it.
    func rotateRootKey() async throws -> RootKeyRotationReport {
        try await whileClosed { configuration in
            if let databaseURL {
                try await LocalVault.rotateRootKey(databaseURL: databaseURL, configuration: configuration)
            } else {
                try await LocalVault.rotateRootKey(configuration: configuration)
            }
        }
    }

    /// Runs `body` while no vault of this value is open on the store, as an offline admin command
    /// runs, then reopens it. Callers hold no other reference to `vault` across the call.
    func whileClosed<Value>(_ body: (LocalVaultConfiguration) async throws -> Value) async throws -> Value {
        await opened?.close()
        opened = nil
        let outcome: Result<Value, any Error>
        do {
            outcome = .success(try await body(configuration))
        } catch {
            outcome = .failure(error)
        }
        opened = try await backend.open(configuration, databaseURL: databaseURL)
        return try outcome.get()
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
        if let databaseURL {
            Task { await TestDatabase.drop(databaseURL) }
        }
    }
}

extension VaultCaller {
    static let alice = VaultCaller(
        environmentID: LocalVault.defaultEnvironmentID,
        actor: VaultActor(id: "key_alice", name: "sk_…lice")
    )
    static let staging = VaultCaller(
        environmentID: "environment_staging",
        actor: VaultActor(id: "key_bob", name: "sk_…bob1")
    )
}
