import ArgumentParser
import CustomerKeyProviders
import EnvelopeCrypto
import Foundation
import LocalVault
import LocalVaultPostgres
import VaultAPI

/// `vault admin verify-customer-key`: a round trip through the customer-managed key (BYOK) of a
/// context pair, to check the key, its permissions and the provider's reachability.
struct VerifyCustomerKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-customer-key",
        abstract: "Wrap and unwrap a random test value through the customer-managed key of a context pair.",
        discussion: """
            Reads the BYOK file (--customer-keys, as given to `vault serve`), finds the customer \
            key of each --context pair that has one, wraps a random 32-byte value under it and \
            unwraps it again (AWS KMS Encrypt and Decrypt, or the provider's own calls). No data \
            is stored and nothing is cached. The test value is never printed.

            With --record-event, each outcome of an organization_id pair whose key is in AWS KMS, \
            Google Cloud KMS or Azure Key Vault is recorded as the event \
            vault.byok_key.verification_completed (organization_id, key_provider, verified) in \
            --environment of the store (the SQLite store of --data-dir, or --database), where \
            GET /events lists it; a running vault serve may keep the store open.

            Exit codes: 0 every key answered, 2 no customer key for the context, 3 the provider \
            refused the key (disabled, deleted, missing permission), 4 the value came back \
            different, 5 the provider is unreachable or failing.

            Example:
              vault admin verify-customer-key --context organization_id=org_abc --customer-keys /etc/vault/byok.json
              vault admin verify-customer-key --context organization_id=org_abc --record-event --data-dir /var/lib/vault
            """
    )

    @OptionGroup var context: ContextOptions

    @Option(
        name: .customLong("customer-keys"),
        help: "The BYOK file (default: customer-keys.json in the data folder).",
        completion: .file(extensions: ["json"])
    )
    var customerKeysFile: String?

    @Flag(name: .customLong("record-event"), help: "Record each outcome as vault.byok_key.verification_completed.")
    var recordEvent = false

    @Option(
        name: .customLong("data-dir"),
        help: "With --record-event: the vault's data folder, its store (or with --database its root.key)."
    )
    var dataDirectory: String?

    @OptionGroup var database: DatabaseOptions

    @Option(help: "With --record-event: the environment whose events hold it.")
    var environment = LocalVault.defaultEnvironmentID

    func run() async throws {
        let pairs = try context.keyContext().sortedPairs
        let file =
            customerKeysFile
            ?? URL(fileURLWithPath: LocalVaultHome.defaultDirectory()).appendingPathComponent("customer-keys.json").path
        let mappings: [CustomerKeyMapping]
        do {
            mappings = try CustomerKeyConfiguration.load(file: file)
        } catch let error as LocalVaultError {
            throw ValidationError(error.message)
        }
        let matching = pairs.compactMap { pair in
            mappings.last { $0.contextKey == pair.0 && $0.contextValue == pair.1 }
        }
        guard !matching.isEmpty else {
            FileHandle.standardError.write(Data("vault: no customer-managed key for this context in \(file)\n".utf8))
            throw ExitCode(2)
        }
        let recorder = recordEvent ? try await openRecordingStore() : nil
        var worst: Int32 = 0
        for mapping in matching {
            let status = await Self.verify(mapping)
            worst = max(worst, status)
            if let recorder, status != 2 { try await record(mapping, verified: status == 0, in: recorder) }
        }
        await recorder?.close()
        if worst != 0 { throw ExitCode(worst) }
    }

    /// The store the events go to, opened shared (a running `vault serve` may hold it too).
    private func openRecordingStore() async throws -> LocalVault {
        let directory = dataDirectory ?? LocalVaultHome.defaultDirectory()
        let configuration = LocalVaultConfiguration(
            dataDirectory: directory,
            purgesInBackground: false,
            recordsEvents: true
        )
        do {
            if let databaseURL = try database.url() {
                try requireRootKey(configuration, command: "verify-customer-key")
                return try await LocalVault.open(databaseURL: databaseURL, configuration: configuration)
            }
            guard FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("vault.sqlite"))
            else {
                FileHandle.standardError.write(
                    Data("vault: admin verify-customer-key: there is no vault store in \(directory)\n".utf8)
                )
                throw ExitCode(5)
            }
            return try LocalVault(configuration: configuration)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            adminFailure(error, command: "verify-customer-key")
        }
    }

    /// Records one outcome, for an `organization_id` pair of a cloud key service (the events'
    /// `key_provider` names only those).
    private func record(_ mapping: CustomerKeyMapping, verified: Bool, in vault: LocalVault) async throws {
        guard mapping.contextKey == "organization_id",
            let service = mapping.provider.keyService
        else { return }
        do {
            try await vault.recordCustomerKeyVerification(
                organizationID: mapping.contextValue,
                provider: service,
                verified: verified,
                environmentID: environment
            )
        } catch {
            adminFailure(error, command: "verify-customer-key")
        }
        printLine(
            "\(mapping.contextKey)=\(mapping.contextValue): recorded \(VaultEventType.byokKeyVerificationCompleted.rawValue)"
        )
    }

    /// One round trip; prints the outcome and returns its exit status.
    static func verify(_ mapping: CustomerKeyMapping) async -> Int32 {
        let label = "\(mapping.contextKey)=\(mapping.contextValue): customer key \(mapping.keyID)"
        let associatedData = Array("vault.verify-customer-key\0\(mapping.keyID)".utf8)
        let started = ContinuousClock.now
        do {
            let value = try DataKey.generate()
            let wrapped = try await mapping.provider.wrap(value, associatedData: associatedData)
            let unwrapped = try await mapping.provider.unwrap(wrapped, associatedData: associatedData)
            guard unwrapped == value else {
                FileHandle.standardError.write(Data("vault: \(label): the unwrapped value differs\n".utf8))
                return 4
            }
            let elapsed = ContinuousClock.now - started
            let milliseconds =
                elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            printLine("\(label): ok (wrapped and unwrapped in \(milliseconds) ms)")
            return 0
        } catch let error as LocalVaultError {
            FileHandle.standardError.write(Data("vault: \(label): \(error.message)\n".utf8))
            switch error.kind {
            case .insufficientPermissions: return 3
            case .invalidRequest: return 4
            default: return 5
            }
        } catch {
            FileHandle.standardError.write(Data("vault: \(label): the round trip failed\n".utf8))
            return 5
        }
    }
}
