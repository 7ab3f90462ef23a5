import ArgumentParser
import Foundation
import LocalVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vault admin backup`: a consistent copy of a data folder's SQLite store, while it serves.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the SQLite store to a file, consistently, even while `vault serve` runs.",
        discussion: """
            The copy is made with SQLite's online backup API: the store as it was at one instant, \
            however busy the server is. It is one self-contained SQLite file, created 0600, and \
            holds only the store: never the root key. Keep the root key (root.key or \
            $VAULT_ROOT_KEY) apart from the backups: the copy opens only with it, and whoever \
            holds both holds every value.

            To restore, stop the server and put the copy in place as vault.sqlite in the data \
            folder (removing any vault.sqlite-wal and vault.sqlite-shm), with the same root key.

            A PostgreSQL store (--database, $VAULT_DATABASE_URL) is backed up with pg_dump.

            Examples:
              vault admin backup --data-dir /var/lib/vault --out /backups/vault-$(date +%F).sqlite
              vault admin backup --out ./vault.sqlite.bak --force
            """
    )

    @Option(name: .customLong("data-dir"), help: "The vault's data folder (default: see `vault --help`).")
    var dataDirectory: String?

    @Option(name: .customLong("out"), help: "The file to create (0600).", completion: .file())
    var output: String

    @Flag(name: .customLong("force"), help: "Replace --out if it exists.")
    var force = false

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if database.redactedDescription != nil {
            throw ValidationError(
                "vault admin backup copies the SQLite store of a data folder; back up a PostgreSQL store with "
                    + "pg_dump (for example: pg_dump --format=custom --file vault.dump \"$VAULT_DATABASE_URL\")"
            )
        }
    }

    func run() async throws {
        let directory = dataDirectory ?? LocalVaultHome.defaultDirectory()
        do {
            try checkDestination()
            let report = try copy(from: directory)
            FileHandle.standardOutput.write(
                Data(
                    """
                    backed up the store in \(directory) to \(output) (\(report.bytes) bytes)
                    objects: \(report.objects), object versions: \(report.objectVersions), key-encrypting keys: \(report.keks)
                    the root key is not in the copy: keep it apart, the copy opens only with it

                    """.utf8
                )
            )
        } catch let error as OutputFileError {
            throw Self.failure(error.description, status: 1)
        } catch {
            // No store, a rotation holding it, or SQLite failing: a service failure.
            throw Self.failure((error as? LocalVaultError)?.message ?? "\(type(of: error))", status: 5)
        }
    }

    /// `--out` is a new path (or, with `--force`, a regular file): never a folder, a device or
    /// a symbolic link.
    private func checkDestination() throws(OutputFileError) {
        guard case .replaced = try OutputFile.resolve(output) else {
            throw OutputFileError("--out must name a regular file")
        }
        if !force, access(output, F_OK) == 0 {
            throw OutputFileError("--out exists: pass --force to replace it")
        }
    }

    /// Backs up into a new private file next to `--out`, then moves it into place: readers of
    /// `--out` never see a partial copy, and without `--force` a file that appeared meanwhile is
    /// not replaced (`link` refuses an existing name).
    private func copy(from directory: String) throws -> StoreBackupReport {
        let (descriptor, temporaryPath) = try OutputFile.createPrivateFile(nextTo: output)
        close(descriptor)
        do {
            let report = try LocalVault.backUpStore(dataDirectory: directory, to: temporaryPath)
            if force {
                guard rename(temporaryPath, output) == 0 else {
                    throw OutputFileError("cannot write --out", errno: errno)
                }
            } else {
                guard link(temporaryPath, output) == 0 else {
                    throw errno == EEXIST
                        ? OutputFileError("--out exists: pass --force to replace it")
                        : OutputFileError("cannot write --out", errno: errno)
                }
                unlink(temporaryPath)
            }
            return report
        } catch {
            unlink(temporaryPath)
            for suffix in ["-journal", "-wal", "-shm"] { unlink(temporaryPath + suffix) }
            throw error
        }
    }

    /// Writes `message` to standard error and returns the exit status to throw.
    private static func failure(_ message: String, status: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("vault: admin backup: \(message)\n".utf8))
        return ExitCode(status)
    }
}
