import ArgumentParser
import Foundation
import LocalVault
import LocalVaultPostgres

/// `vault admin`: operations on the store itself (a data folder or a database), run while no
/// `vault serve` uses it (except `backup`, made for a running store).
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Operate on the store (a data folder, or --database): root-key and KEK rotation, rewrap, retirement, backup, checks of customer keys and of the event chain.",
        subcommands: [
            RotateRootKey.self, RotateKEK.self, Rewrap.self, RetireKEKVersions.self, Backup.self,
            VerifyCustomerKey.self, VerifyEvents.self,
        ]
    )
}

/// `vault admin rotate-root-key`: a new root key for the store; nothing is re-encrypted.
struct RotateRootKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-root-key",
        abstract: "Replace the store's root key: re-wrap every key-encrypting key under a new random key.",
        discussion: """
            Stop every `vault serve` on the store first: the rotation refuses to run while the \
            store is open elsewhere. In one transaction every key-encrypting key is re-wrapped \
            under a new random root key (data keys, objects and encrypted blobs are unchanged) and \
            the old key stops opening the store.

            With root.key in the data folder, the new key replaces it (written first to \
            root.key.next: a rotation interrupted by a crash is finished or undone on the next \
            start). With $VAULT_ROOT_KEY, the new key (base64) is written to --new-key-file \
            (created 0600, never overwritten): set VAULT_ROOT_KEY to its content before the next \
            start, then remove the file. The key is never printed.

            With --database (or $VAULT_DATABASE_URL), the PostgreSQL database is rotated: stop \
            every `vault serve` instance on it first, then start them all with the new key. The \
            root key comes from $VAULT_ROOT_KEY, else root.key in --data-dir, as above.

            Examples:
              vault admin rotate-root-key --data-dir /var/lib/vault
              VAULT_ROOT_KEY=... vault admin rotate-root-key --new-key-file /secure/root.key.new
              vault admin rotate-root-key --data-dir /etc/vault \\
                --database postgres://vault@db:5432/vault --database-password-file /etc/vault/db.password
            """
    )

    @Option(
        name: .customLong("data-dir"),
        help: "The vault's data folder: its store, or with --database its root.key (default: see `vault --help`)."
    )
    var dataDirectory: String?

    @OptionGroup var database: DatabaseOptions

    @Option(
        name: .customLong("new-key-file"),
        help: "With $VAULT_ROOT_KEY: a new file to receive the new root key (base64).",
        completion: .file()
    )
    var newKeyFile: String?

    private var rootKeyFromEnvironment: Bool {
        !(ProcessInfo.processInfo.environment[RootKeySource.environmentVariable] ?? "").isEmpty
    }

    func validate() throws {
        if rootKeyFromEnvironment, newKeyFile == nil {
            throw ValidationError(
                "the root key comes from \(RootKeySource.environmentVariable): pass --new-key-file FILE "
                    + "to receive the new key"
            )
        }
        if !rootKeyFromEnvironment, newKeyFile != nil {
            throw ValidationError(
                "--new-key-file is for a root key given in \(RootKeySource.environmentVariable); "
                    + "without it the new key replaces root.key"
            )
        }
    }

    func run() async throws {
        let directory = dataDirectory ?? LocalVaultHome.defaultDirectory()
        let configuration = LocalVaultConfiguration(dataDirectory: directory, purgesInBackground: false)
        let databaseURL = try database.url()
        let store =
            databaseURL == nil ? "the store in \(directory)" : "the database \(database.redactedDescription ?? "")"
        let report: RootKeyRotationReport
        do {
            if let databaseURL {
                try requireRootKey(configuration, command: "rotate-root-key")
                report = try await LocalVault.rotateRootKey(
                    databaseURL: databaseURL,
                    configuration: configuration,
                    newKeyFile: newKeyFile
                )
            } else {
                report = try await LocalVault.rotateRootKey(configuration: configuration, newKeyFile: newKeyFile)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            // The store could not be opened, is in use, or the key is not its own: a service failure.
            let message = (error as? LocalVaultError)?.message ?? "\(type(of: error))"
            FileHandle.standardError.write(Data("vault: admin rotate-root-key: \(message)\n".utf8))
            throw ExitCode(5)
        }
        var lines = [
            "rotated the root key of \(store)",
            "key-encrypting keys re-wrapped: \(report.rewrappedKEKs)",
            "stored responses re-sealed: \(report.resealedResponses)",
        ]
        if report.droppedResponses > 0 {
            lines.append("stored responses dropped (did not open): \(report.droppedResponses)")
        }
        if report.mustUpdateEnvironment {
            lines.append("the new root key (base64) is in \(report.newKeyPath)")
            lines.append(
                "set \(RootKeySource.environmentVariable) to the content of that file before the next start: "
                    + "the store no longer opens with the old value"
            )
        } else {
            lines.append("the new root key is in \(report.newKeyPath); the old key no longer opens the store")
        }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
