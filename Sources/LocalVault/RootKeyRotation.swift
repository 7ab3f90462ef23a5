import EnvelopeCrypto
import Foundation

/// What a root-key rotation did. Counts and paths only, never a key.
public struct RootKeyRotationReport: Sendable, Hashable {
    /// The key-encrypting keys re-wrapped under the new root key.
    public let rewrappedKEKs: Int
    /// Stored `POST /kv` responses (durable idempotency records) re-sealed under the new root key.
    public let resealedResponses: Int
    /// Stored responses that no longer opened (altered) and were dropped: a retry runs again.
    public let droppedResponses: Int
    /// Where the new root key is: `root.key` (replaced), or the `--new-key-file` given when the
    /// root key came from `VAULT_ROOT_KEY`.
    public let newKeyPath: String
    /// Whether the new key went to a file the operator must now point `VAULT_ROOT_KEY` at.
    public let mustUpdateEnvironment: Bool
}

/// Replaces a store's root key: every KEK is re-wrapped (the KEKs themselves, and so every data
/// key and object, are unchanged: nothing is re-encrypted), the stored responses sealed under the
/// root key are re-sealed, and the check value is replaced, all in one write transaction.
///
/// Crash safety: the new key is on disk (flushed, folder flushed) before the transaction commits,
/// so after a crash at any point exactly one of the two keys opens the store and both are on disk:
/// - with `root.key`, the new key is first written to `root.key.next`, then renamed over
///   `root.key` after the commit. Opening the store finishes an interrupted rotation (the next
///   key opens the store and `root.key` does not: rename) or cleans one up (`root.key` opens it:
///   the next key is removed).
/// - with `VAULT_ROOT_KEY`, the new key (base64) goes to a new file the operator names; the store
///   records that path, and the refusal of the old key names it.
///
/// The storage work is the ``RootKeyRewrap`` transform applied to every row sealed under the root
/// key (``VaultStorage/rotateRootKey(_:newKeyLocation:beforeCommit:)``): the key-file steps are the
/// same on every storage backend.
enum RootKeyRotation {
    /// The suffix of the next key beside a `root.key` file while a rotation runs.
    static let nextSuffix = ".next"

    /// The points a test may stop a rotation at, as a crash would.
    enum Step: Sendable {
        /// The new key is on disk; the store is unchanged.
        case newKeyWritten
        /// Every row is re-wrapped in the open transaction, which is then abandoned.
        case rowsRewrapped
        /// The transaction is committed; `root.key.next` is not renamed yet.
        case committed
    }

    struct Interrupted: Error {}

    /// Rotates the root key of the SQLite store in `configuration.dataDirectory`, holding its
    /// lock exclusively.
    static func rotate(
        configuration: LocalVaultConfiguration,
        newKeyFile: String?,
        stoppingAfter stop: Step?
    ) async throws -> RootKeyRotationReport {
        let directory = configuration.dataDirectory
        let databasePath = (directory as NSString).appendingPathComponent(SQLiteStorage.fileName)
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw LocalVaultError(.internalError, "there is no vault store in \(directory)")
        }
        let lock = try StoreLock(directory: directory, exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        return try await rotate(
            storage: try SQLiteStorage.opened(in: directory),
            configuration: configuration,
            newKeyFile: newKeyFile,
            storeDescription: directory,
            stoppingAfter: stop
        )
    }

    /// Rotates the root key of `storage`, whose current root key `configuration` names.
    static func rotate(
        storage: any VaultStorage,
        configuration: LocalVaultConfiguration,
        newKeyFile: String?,
        storeDescription: String,
        stoppingAfter stop: Step?
    ) async throws -> RootKeyRotationReport {
        let source = configuration.rootKey
        let oldKey = try await RootKeyCheck.open(storage, source: source, description: storeDescription).rootKey
        let (destination, finalPath) = try destinations(source: source, newKeyFile: newKeyFile)
        let newKey = try DataKey.generate()
        try DurableKeyFile.create(path: destination, key: newKey, encoding: source.isFile ? .raw : .base64)
        if stop == .newKeyWritten { throw Interrupted() }
        let counts: RootKeyRewrap.Counts
        do {
            counts = try await storage.rotateRootKey(
                RootKeyRewrap(oldKey: oldKey, newKey: newKey),
                newKeyLocation: finalPath
            ) {
                if stop == .rowsRewrapped { throw Interrupted() }
            }
        } catch let interrupted as Interrupted {
            throw interrupted
        } catch {
            // Nothing was committed: the old key stays, and the unused new one goes.
            try? DurableKeyFile.remove(destination)
            if let error = error as? LocalVaultError { throw error }
            let reason = LocalVaultError(storageFailure: error)?.message ?? "\(error)"
            throw LocalVaultError(.internalError, "the rotation failed, the old root key stays: \(reason)")
        }
        if stop == .committed { throw Interrupted() }
        if destination != finalPath {
            do {
                try DurableKeyFile.replace(finalPath, with: destination)
            } catch let error as LocalVaultError {
                // The store is under the new key already: the next open moves it into place.
                throw LocalVaultError(
                    .internalError,
                    "\(error.message); the rotation is committed and the new key is in \(destination), "
                        + "which the next start moves into place"
                )
            }
        }
        configuration.logger?.notice(
            "rotated the root key",
            metadata: [
                "data_dir": "\(storeDescription)", "new_root_key": "\(finalPath)", "keks": "\(counts.keks)",
                "resealed_responses": "\(counts.resealedResponses)",
            ]
        )
        return RootKeyRotationReport(
            rewrappedKEKs: counts.keks,
            resealedResponses: counts.resealedResponses,
            droppedResponses: counts.droppedResponses,
            newKeyPath: finalPath,
            mustUpdateEnvironment: !source.isFile
        )
    }

    /// Where the new key is written first, and where it ends up: `root.key.next` then `root.key`
    /// for a key file; the named new file for a key from `VAULT_ROOT_KEY`.
    private static func destinations(
        source: RootKeySource,
        newKeyFile: String?
    ) throws -> (destination: String, finalPath: String) {
        switch source {
        case .file(let path):
            guard newKeyFile == nil else {
                throw LocalVaultError(
                    .invalidRequest,
                    "a new key file is for a root key given in \(RootKeySource.environmentVariable); "
                        + "this store's root key is the file \(path), which the new key replaces"
                )
            }
            return (path + nextSuffix, path)
        case .base64:
            guard let newKeyFile else {
                throw LocalVaultError(
                    .invalidRequest,
                    "the root key comes from \(RootKeySource.environmentVariable): name a new key file for the new key"
                )
            }
            return (absolute(newKeyFile), absolute(newKeyFile))
        }
    }

    /// Finishes or cleans up a rotation interrupted before `root.key.next` was renamed.
    /// - Parameter opensStore: whether a key opens the store's check value.
    /// - Returns: whether the next key was moved into place.
    static func finishInterrupted(keyFile path: String, opensStore: (DataKey) -> Bool) throws -> Bool {
        let next = path + nextSuffix
        guard FileManager.default.fileExists(atPath: next) else { return false }
        if let current = try? KeyFile.load(path: path), opensStore(current) {
            // Written, but the transaction never committed: the store is still under root.key.
            try DurableKeyFile.remove(next)
            return false
        }
        guard let nextKey = try? KeyFile.load(path: next), opensStore(nextKey) else { return false }
        try DurableKeyFile.replace(path, with: next)
        return true
    }

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }
}

/// The rows of a store sealed under the root key, moved from the old key to the new one. Only
/// wrapped keys change: what they wrap (KEKs, response keys) is the same. Each storage backend
/// applies it to its rows in one transaction (``VaultStorage/rotateRootKey(_:newKeyLocation:beforeCommit:)``).
package struct RootKeyRewrap: Sendable {
    package struct Counts: Sendable {
        package var keks = 0
        package var resealedResponses = 0
        package var droppedResponses = 0

        package init() {}
    }

    let oldKey: DataKey
    let newKey: DataKey

    static let doesNotOpen = LocalVaultError(
        .internalError,
        "a key-encrypting key of the store does not open with its root key (an altered row): "
            + "rotation refused, nothing changed"
    )

    /// One KEK (any version, retired ones included) re-wrapped; its associated data (id, pair,
    /// version) is unchanged.
    package func rewrap(_ kek: StoredKEK) throws -> [UInt8] {
        let associatedData = KEKRing.associatedData(id: kek.id, name: kek.name, version: kek.version)
        guard let key = try? oldKey.unwrap(kek.wrappedKey[...], associatedData: associatedData) else {
            throw Self.doesNotOpen
        }
        return try newKey.wrap(key, associatedData: associatedData)
    }

    /// One stored response re-sealed, or nil when it does not open (it would never replay: drop it).
    package func reseal(scope: String, key: String, sealedBody: [UInt8]) throws -> [UInt8]? {
        let associatedData = LocalVault.responseAssociatedData(scope: scope, key: key)
        guard let body = try? LocalVault.openDurableResponse(sealedBody, under: oldKey, associatedData: associatedData)
        else { return nil }
        return try LocalVault.sealDurableResponse(body, under: newKey, associatedData: associatedData)
    }

    /// The check value to record for the new key.
    package func newCheckValue() throws -> [UInt8] { try RootKeyCheck.checkValue(for: newKey) }
}

/// The names of the store's `meta` rows.
package enum MetaName {
    /// The root-key check value (see RootKeyCheck).
    package static let rootKeyCheck = "root_key_check"
    /// Where the last root-key rotation wrote the new key (a path).
    package static let rotatedKeyLocation = "root_key_rotated_to"
}

extension RootKeySource {
    var isFile: Bool {
        if case .file = self { return true }
        return false
    }
}

extension LocalVault {
    /// Replaces the store's root key with a new random one (see the README's rotation runbook).
    ///
    /// Every KEK is re-wrapped under the new key and the stored responses sealed under the root
    /// key are re-sealed, in one write transaction; no data key, object or blob changes. The old
    /// key no longer opens the store afterwards.
    ///
    /// No vault may be open on the store, in this process or another (a running `vault serve`):
    /// the rotation takes the store's lock exclusively and is refused while any vault holds it.
    /// - Parameters:
    ///   - configuration: the store and its current root key.
    ///   - newKeyFile: required when the root key is given as base64 (`VAULT_ROOT_KEY`): a new
    ///     file (created 0600, never overwritten) that receives the new key in base64, to put in
    ///     the variable. Refused when the root key is a file, which the new key replaces.
    /// - Returns: counts and where the new key is; never the key.
    /// - Throws: ``LocalVaultError``: a missing store, a vault open on it, a root key that is not
    ///   the store's, a new key file that exists. Nothing changes unless the rotation completes.
    public static func rotateRootKey(
        configuration: LocalVaultConfiguration,
        newKeyFile: String? = nil
    ) async throws -> RootKeyRotationReport {
        try await RootKeyRotation.rotate(configuration: configuration, newKeyFile: newKeyFile, stoppingAfter: nil)
    }

    /// Replaces the root key of `storage` (such as a PostgreSQL store) with a new random one: the
    /// same steps and key files as ``rotateRootKey(configuration:newKeyFile:)``, with the rows
    /// re-wrapped in one transaction of `storage`. The caller makes sure that no vault runs on
    /// the store meanwhile (there is no folder lock to take).
    /// - Parameter storeDescription: names the store in messages and logs; never a password.
    package static func rotateRootKey(
        storage: any VaultStorage,
        configuration: LocalVaultConfiguration,
        newKeyFile: String?,
        storeDescription: String
    ) async throws -> RootKeyRotationReport {
        try await RootKeyRotation.rotate(
            storage: storage,
            configuration: configuration,
            newKeyFile: newKeyFile,
            storeDescription: storeDescription,
            stoppingAfter: nil
        )
    }
}
