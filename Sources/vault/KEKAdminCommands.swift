import ArgumentParser
import Foundation
import LocalVault
import LocalVaultPostgres
import VaultAPI

/// Opens the store for a `vault admin` KEK command (the SQLite store of the data folder, or the
/// PostgreSQL database of `--database`) exclusively, so that no running `vault serve` keeps
/// using its cached KEKs (the previous newest version, or a version being retired).
/// Failures are a service failure, exit 5.
/// - Parameter recordsEvents: whether the command's changes are recorded as events (as ``LocalVault/adminActor``).
/// - Returns: the vault and how to name its store in output (a folder, or a URL without password).
func openStoreExclusively(
    dataDirectory: String?,
    database: DatabaseOptions,
    command: String,
    recordsEvents: Bool = false
) async throws -> (LocalVault, String) {
    let directory = dataDirectory ?? LocalVaultHome.defaultDirectory()
    let configuration = LocalVaultConfiguration(
        dataDirectory: directory,
        purgesInBackground: false,
        recordsEvents: recordsEvents
    )
    if let databaseURL = try database.url() {
        try requireRootKey(configuration, command: command)
        do {
            let vault = try await LocalVault.openExclusively(databaseURL: databaseURL, configuration: configuration)
            return (vault, "the database \(database.redactedDescription ?? "")")
        } catch {
            adminFailure(error, command: command)
        }
    }
    guard FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("vault.sqlite")) else {
        FileHandle.standardError.write(Data("vault: admin \(command): there is no vault store in \(directory)\n".utf8))
        throw ExitCode(5)
    }
    do {
        return (try LocalVault.openExclusively(configuration: configuration), directory)
    } catch {
        adminFailure(error, command: command)
    }
}

/// An admin command on a database never creates a root key: the database's must be there
/// (`VAULT_ROOT_KEY`, or `root.key` in the data folder).
func requireRootKey(_ configuration: LocalVaultConfiguration, command: String) throws {
    guard case .file(let path) = configuration.rootKey, !FileManager.default.fileExists(atPath: path) else { return }
    FileHandle.standardError.write(
        Data(
            ("vault: admin \(command): there is no root key at \(path): give the database's root key in "
                + "\(RootKeySource.environmentVariable) or as root.key in --data-dir\n").utf8
        )
    )
    throw ExitCode(5)
}

/// Reports a failed admin command on standard error and exits 5 (a service failure).
func adminFailure(_ error: any Error, command: String) -> Never {
    let message = (error as? LocalVaultError)?.message ?? "\(type(of: error))"
    FileHandle.standardError.write(Data("vault: admin \(command): \(message)\n".utf8))
    Foundation.exit(5)
}

/// `vault admin rotate-kek`: a new KEK version for each pair of a context.
struct RotateKEK: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-kek",
        abstract: "Add a new key-encrypting key version for each pair of a context.",
        discussion: """
            Stop every `vault serve` on the store first: the command refuses to run while the \
            store is open elsewhere (a running server would keep wrapping new data keys under its \
            cached previous version until it restarts). New data keys are wrapped under the new \
            version; data keys and objects under older versions still decrypt. Nothing is \
            re-encrypted: run `vault admin rewrap` to move stored objects to the new version. \
            Each new version is recorded as the event vault.kek.created, its actor admin.

            With --database (or $VAULT_DATABASE_URL), the command works on that PostgreSQL \
            database; stop every `vault serve` instance on it first. Its root key comes from \
            $VAULT_ROOT_KEY, else root.key in --data-dir.

            Examples:
              vault admin rotate-kek --context organization_id=org_123 --data-dir /var/lib/vault
              vault admin rotate-kek --context organization_id=org_123 \\
                --database postgres://vault@db:5432/vault --database-password-file /etc/vault/db.password
            """
    )

    @OptionGroup var context: ContextOptions

    @Option(name: .customLong("environment"), help: "The environment of the keys (default: environment_local).")
    var environmentID: String = LocalVault.defaultEnvironmentID

    @Option(
        name: .customLong("data-dir"),
        help: "The vault's data folder: its store, or with --database its root.key (default: see `vault --help`)."
    )
    var dataDirectory: String?

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard !context.pairs.isEmpty else { throw ValidationError("name at least one --context key=value") }
        _ = try context.keyContext()
    }

    func run() async throws {
        let keyContext = try context.keyContext()
        let (vault, directory) = try await openStoreExclusively(
            dataDirectory: dataDirectory,
            database: database,
            command: "rotate-kek",
            // `vault.kek.created`, one per new version, its actor `admin`.
            recordsEvents: true
        )
        let rotations: [KEKRotation]
        do {
            rotations = try await vault.rotateKEKs(context: keyContext, environmentID: environmentID)
        } catch {
            adminFailure(error, command: "rotate-kek")
        }
        var lines = ["rotated key-encrypting keys in \(directory) (environment \(environmentID))"]
        for rotation in rotations {
            lines.append("\(rotation.contextKey)=\(rotation.contextValue): now version \(rotation.version)")
        }
        if rotations.count < keyContext.pairs.count {
            lines.append("customer-managed keys are not rotated by Vault: their provider rotates them")
        }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// `vault admin rewrap`: stored objects' data keys moved to the newest KEK versions.
struct Rewrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rewrap",
        abstract: "Re-wrap stored objects' data keys under the newest key-encrypting key versions.",
        discussion: """
            Stop every `vault serve` on the store first. Only the wrapped data keys inside each \
            stored version change: the ciphertext, the value and the etag stay. Runs in batches \
            (one transaction each) with progress on standard error; versions already under the \
            newest KEK versions are skipped, so an interrupted run is finished by running it again.

            With --database (or $VAULT_DATABASE_URL), the command works on that PostgreSQL \
            database; stop every `vault serve` instance on it first.

            Examples:
              vault admin rewrap --data-dir /var/lib/vault
              VAULT_DATABASE_URL=postgres://vault:secret@db:5432/vault vault admin rewrap --batch-size 1000
            """
    )

    @Option(
        name: .customLong("data-dir"),
        help: "The vault's data folder: its store, or with --database its root.key (default: see `vault --help`)."
    )
    var dataDirectory: String?

    @OptionGroup var database: DatabaseOptions

    @Option(name: .customLong("batch-size"), help: "Object versions per transaction (default 500).")
    var batchSize: Int = 500

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() async throws {
        let (vault, directory) = try await openStoreExclusively(
            dataDirectory: dataDirectory,
            database: database,
            command: "rewrap"
        )
        let totals: RewrapProgress
        do {
            totals = try await vault.rewrapStoredObjects(batchSize: batchSize) { progress in
                FileHandle.standardError.write(
                    Data(
                        "vault: rewrap: \(progress.scanned) versions read, \(progress.rewrapped) re-wrapped\n".utf8
                    )
                )
            }
        } catch {
            adminFailure(error, command: "rewrap")
        }
        FileHandle.standardOutput.write(
            Data(
                """
                re-wrapped stored objects in \(directory)
                object versions read: \(totals.scanned)
                re-wrapped: \(totals.rewrapped)
                already current (skipped): \(totals.skipped)

                """.utf8
            )
        )
    }
}

/// `vault admin retire-kek-versions`: old KEK versions made unusable once nothing stored uses them.
struct RetireKEKVersions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retire-kek-versions",
        abstract: "Retire the key-encrypting key versions of a pair below a version.",
        discussion: """
            Stop every `vault serve` on the store first. Refused (exit 2, with the count) while a \
            stored object version still has its data key wrapped under one of those versions: run \
            `vault admin rewrap` first. Encrypted blobs held by clients cannot be counted: those \
            still under a retired version stop decrypting (400, as a foreign blob); rekey them \
            (keys/rekey) before retiring. Retired versions stay in the store, never unwrap again.

            With --database (or $VAULT_DATABASE_URL), the command works on that PostgreSQL \
            database; stop every `vault serve` instance on it first.

            Examples:
              vault admin retire-kek-versions --context organization_id=org_123 --below 2
              vault admin retire-kek-versions --context organization_id=org_123 --below 2 \\
                --database postgres://vault@db:5432/vault --database-password-file /etc/vault/db.password
            """
    )

    @OptionGroup var context: ContextOptions

    @Option(name: .customLong("below"), help: "Retire every version below this one.")
    var below: Int

    @Option(name: .customLong("environment"), help: "The environment of the keys (default: environment_local).")
    var environmentID: String = LocalVault.defaultEnvironmentID

    @Option(
        name: .customLong("data-dir"),
        help: "The vault's data folder: its store, or with --database its root.key (default: see `vault --help`)."
    )
    var dataDirectory: String?

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard context.pairs.count == 1 else { throw ValidationError("name exactly one --context key=value") }
        _ = try context.keyContext()
        guard below >= 2 else { throw ValidationError("--below must be at least 2") }
    }

    func run() async throws {
        let keyContext = try context.keyContext()
        guard let (contextKey, contextValue) = keyContext.sortedPairs.first else { throw ExitCode(2) }
        let (vault, _) = try await openStoreExclusively(
            dataDirectory: dataDirectory,
            database: database,
            command: "retire-kek-versions",
            // `vault.kek.deleted`, one per retired version, its actor `admin`.
            recordsEvents: true
        )
        let result: KEKRetirement
        do {
            result = try await vault.retireKEKVersions(
                contextKey: contextKey,
                contextValue: contextValue,
                below: below,
                environmentID: environmentID
            )
        } catch let error as LocalVaultError where error.kind == .unprocessable {
            FileHandle.standardError.write(Data("vault: admin retire-kek-versions: \(error.message)\n".utf8))
            throw ExitCode(2)
        } catch {
            adminFailure(error, command: "retire-kek-versions")
        }
        switch result {
        case .inUse(let count):
            FileHandle.standardError.write(
                Data(
                    ("vault: admin retire-kek-versions: refused: \(count) stored object versions still use a "
                        + "version below \(below); run `vault admin rewrap` first. Nothing changed.\n").utf8
                )
            )
            throw ExitCode(2)
        case .retired(let count):
            FileHandle.standardOutput.write(
                Data(
                    ("retired \(count) key-encrypting key versions below \(below) of \(contextKey)=\(contextValue)\n"
                        + "encrypted keys held by clients cannot be counted: those still under a retired version "
                        + "no longer decrypt\n").utf8
                )
            )
        }
    }
}
