import EnvelopeCrypto
import Foundation
import LocalVault
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vault serve` refuses (exit status 5, a message naming the cause) a root key that is not the
/// store's, and never writes a new root key for a store that holds data.
@Suite(
    "vault serve and the root key",
    .enabled(if: VaultProcess.binary != nil || isCI, "the vault executable is not built (swift build)")
)
struct ServeRootKeyTests {
    @Test("a new store is announced at notice; another root key or a missing one exits 5")
    func rootKeyMismatchExits5() async throws {
        try await withTemporaryDirectory { directory in
            let dataDirectory = directory
            let first = try await VaultProcess.serve(dataDirectory: dataDirectory, apiKeys: "sk_test_root_check")
            first.signal(SIGTERM)
            let ended = try await first.waitForExit(timeout: .seconds(20))
            if ended == nil { first.stop() }
            #expect(first.standardError.contains("created a new vault store and root key"), "\(first.standardError)")
            // Something stored under the root key.
            _ = try await LocalVault(
                configuration: LocalVaultConfiguration(
                    dataDirectory: dataDirectory,
                    rootKey: .file(dataDirectory + "/root.key")
                )
            )
            .createDataKey(context: ["k": "v"], environmentID: LocalVault.defaultEnvironmentID)

            let arguments = ["serve", "--port", "0", "--data-dir", dataDirectory]
            let otherKey = try DataKey.generate().base64EncodedString()
            let wrongKey = try await VaultProcess.run(
                arguments,
                environment: ["VAULT_API_KEYS": "sk_test_root_check", "VAULT_ROOT_KEY": otherKey]
            )
            #expect(wrongKey.status == 5)
            #expect(wrongKey.error.contains("the root key does not match the store"), "\(wrongKey.error)")
            #expect(!wrongKey.error.contains(otherKey))

            let keyPath = dataDirectory + "/root.key"
            try FileManager.default.removeItem(atPath: keyPath)
            let missing = try await VaultProcess.run(arguments, environment: ["VAULT_API_KEYS": "sk_test_root_check"])
            #expect(missing.status == 5)
            #expect(missing.error.contains("root key file \(keyPath) is missing"), "\(missing.error)")
            #expect(!FileManager.default.fileExists(atPath: keyPath))
        }
    }
}
