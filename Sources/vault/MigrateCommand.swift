import ArgumentParser
import CustomerKeyProviders
import Foundation
import LocalVault
import LocalVaultPostgres

/// `vault migrate`: copies a data folder's SQLite store into an empty PostgreSQL database.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a SQLite store into an empty PostgreSQL database, then verify the copy.",
        discussion: """
            Every row is copied as it is, under the same root key ($VAULT_ROOT_KEY, else root.key \
            in the data folder): key-encrypting key versions (retired ones too), objects with all \
            their versions (deleted objects keep their name until their purge), durable \
            idempotency records and the root-key check. Nothing is re-encrypted. Then every live \
            object of every environment is read from both stores and compared, and the row counts \
            of every table are compared.

            Stop `vault serve` on the data folder first: the store is held exclusively while it is \
            copied. The source is left as it is. The database must be empty (refused otherwise, \
            nothing written): migrate before any `vault serve --database` starts on it. A failed \
            copy or verification leaves the database partly filled: drop it, create it again, and \
            rerun. Objects under customer-managed keys need --customer-keys to be verified.

            Progress goes to standard error, the summary to standard output. Exit status 5 for a \
            store or database failure (unreachable, not empty, a root key that is not the store's, \
            a failed verification).

            Example:
              VAULT_DATABASE_URL=postgres://vault:secret@db:5432/vault \\
                vault migrate --from-data-dir /var/lib/vault
              vault migrate --from-data-dir /var/lib/vault \\
                --database postgres://vault@db:5432/vault \\
                --database-password-file /run/secrets/db-password
            """
    )

    @Option(
        name: .customLong("from-data-dir"),
        help: ArgumentHelp("The data folder holding the SQLite store (vault.sqlite).", valueName: "dir")
    )
    var dataDirectory: String

    @OptionGroup var database: DatabaseOptions

    @Option(
        name: .customLong("customer-keys"),
        help: "A JSON file of customer-managed keys (BYOK) by context pair, to verify their objects.",
        completion: .file(extensions: ["json"])
    )
    var customerKeysFile: String?

    func validate() throws {
        guard database.redactedDescription != nil else {
            throw ValidationError("name the destination: --database URL or \(DatabaseOptions.environmentVariable)")
        }
    }

    func run() async throws {
        guard let url = try database.url() else {
            throw ValidationError("name the destination: --database URL or \(DatabaseOptions.environmentVariable)")
        }
        let configuration = LocalVaultConfiguration(
            dataDirectory: dataDirectory,
            customerKeys: try loadCustomerKeys(),
            purgesInBackground: false
        )
        let report: StoreMigrationReport
        do {
            report = try await LocalVault.migrate(
                fromDataDirectory: dataDirectory,
                toDatabaseURL: url,
                configuration: configuration,
                progress: Self.printProgress
            )
        } catch {
            // The store, the database or the copy failed: a service failure.
            let message = (error as? LocalVaultError)?.message ?? "\(type(of: error))"
            FileHandle.standardError.write(Data("vault: migrate: \(message)\n".utf8))
            throw ExitCode(5)
        }
        let copied = report.copied
        let lines = [
            "migrated the store in \(report.source) to \(report.destination)",
            "key-encrypting key versions: \(copied.keks) (retired: \(copied.retiredKEKs), "
                + "quarantined: \(copied.quarantinedKEKs))",
            "objects: \(copied.objects) (deleted, awaiting purge: \(copied.deletedObjects))",
            "object versions: \(copied.objectVersions)",
            "idempotency records: \(copied.idempotencyRecords)",
            "events: \(copied.events) (chains of \(copied.eventChainHeads) environments, copied as they are)",
            "verified: \(report.verifiedObjects) live objects read the same from both stores; row counts match",
            "the source is unchanged; start vault serve with --database once it is configured",
        ]
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    private static func printProgress(_ progress: StoreMigrationProgress) {
        let line =
            switch progress {
            case .copied(let copied):
                "copied: \(copied.rows) rows (\(copied.keks) key versions, \(copied.objects) objects, "
                    + "\(copied.objectVersions) versions, \(copied.idempotencyRecords) idempotency records)"
            case .verified(let objects): "verified: \(objects) objects"
            }
        FileHandle.standardError.write(Data("vault: migrate: \(line)\n".utf8))
    }

    private func loadCustomerKeys() throws -> [CustomerKeyMapping] {
        guard let customerKeysFile else { return [] }
        do {
            return try CustomerKeyConfiguration.load(file: customerKeysFile)
        } catch let error as LocalVaultError {
            throw ValidationError(error.message)
        }
    }
}
