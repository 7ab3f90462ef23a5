import Foundation
import LocalVault
import VaultAPI

/// A vault in a fresh temporary folder, removed when the value is released.
final class TemporaryVault: @unchecked Sendable {
    let directory: String
    private(set) var vault: LocalVault

    init(customerKeys: [CustomerKeyMapping] = []) throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("localvault-tests-\(UUID().uuidString)").path
        vault = try LocalVault(
            configuration: LocalVaultConfiguration(
                dataDirectory: directory,
                rootKey: .file(directory + "/root.key"),
                customerKeys: customerKeys
            )
        )
    }

    /// Opens the same folder again, as a restart would.
    func reopen(customerKeys: [CustomerKeyMapping] = []) throws {
        vault = try LocalVault(
            configuration: LocalVaultConfiguration(
                dataDirectory: directory,
                rootKey: .file(directory + "/root.key"),
                customerKeys: customerKeys
            )
        )
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

extension VaultCaller {
    static let alice = VaultCaller(
        environmentID: LocalVault.defaultEnvironmentID,
        actor: Actor(id: "key_alice", name: "sk_…lice")
    )
    static let staging = VaultCaller(
        environmentID: "environment_staging",
        actor: Actor(id: "key_bob", name: "sk_…bob1")
    )
}
