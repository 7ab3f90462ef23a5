import EnvelopeCrypto
import Foundation
import GRDB

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
/// key, so that another storage backend can run the same steps in its own transaction.
enum RootKeyRotation {
    /// The `meta` row naming where the last rotation wrote the new key (a path).
    static let locationMetaName = "root_key_rotated_to"

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

    static func rotate(
        configuration: LocalVaultConfiguration,
        newKeyFile: String?,
        stoppingAfter stop: Step?
    ) throws -> RootKeyRotationReport {
        let directory = configuration.dataDirectory
        let databasePath = (directory as NSString).appendingPathComponent("vault.sqlite")
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw LocalVaultError(.internalError, "there is no vault store in \(directory)")
        }
        let lock = try StoreLock(directory: directory, exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        let store: VaultStore
        do {
            store = try VaultStore(path: databasePath)
        } catch let error as LocalVaultError {
            throw error
        } catch {
            let reason = LocalVaultError(storageFailure: error)?.message ?? "\(error)"
            throw LocalVaultError(.internalError, "cannot open the store in \(directory): \(reason)")
        }
        let oldKey = try RootKeyCheck.open(store: store, rootKey: configuration.rootKey, directory: directory).rootKey

        let destination: String
        let finalPath: String
        switch configuration.rootKey {
        case .file(let path):
            guard newKeyFile == nil else {
                throw LocalVaultError(
                    .invalidRequest,
                    "a new key file is for a root key given in \(RootKeySource.environmentVariable); "
                        + "this store's root key is the file \(path), which the new key replaces"
                )
            }
            destination = path + nextSuffix
            finalPath = path
        case .base64:
            guard let newKeyFile else {
                throw LocalVaultError(
                    .invalidRequest,
                    "the root key comes from \(RootKeySource.environmentVariable): name a new key file for the new key"
                )
            }
            destination = absolute(newKeyFile)
            finalPath = destination
        }

        let newKey = try DataKey.generate()
        try DurableKeyFile.create(
            path: destination,
            key: newKey,
            encoding: configuration.rootKey.isFile ? .raw : .base64
        )
        if stop == .newKeyWritten { throw Interrupted() }
        let rewrap = RootKeyRewrap(oldKey: oldKey, newKey: newKey)
        let counts: RootKeyRewrap.Counts
        do {
            counts = try store.pool.writeWithoutTransaction { db in
                var counts = RootKeyRewrap.Counts()
                try db.inTransaction(.exclusive) {
                    counts = try rewrap.apply(to: db, newKeyLocation: finalPath)
                    if stop == .rowsRewrapped { throw Interrupted() }
                    return .commit
                }
                return counts
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
                "data_dir": "\(directory)", "new_root_key": "\(finalPath)", "keks": "\(counts.keks)",
                "resealed_responses": "\(counts.resealedResponses)",
            ]
        )
        return RootKeyRotationReport(
            rewrappedKEKs: counts.keks,
            resealedResponses: counts.resealedResponses,
            droppedResponses: counts.droppedResponses,
            newKeyPath: finalPath,
            mustUpdateEnvironment: !configuration.rootKey.isFile
        )
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
/// wrapped keys change: what they wrap (KEKs, response keys) is the same.
struct RootKeyRewrap {
    struct Counts {
        var keks = 0
        var resealedResponses = 0
        var droppedResponses = 0
    }

    let oldKey: DataKey
    let newKey: DataKey

    static let doesNotOpen = LocalVaultError(
        .internalError,
        "a key-encrypting key of the store does not open with its root key (an altered row): "
            + "rotation refused, nothing changed"
    )

    /// Re-wraps one KEK; the associated data (its id and name) is unchanged.
    func rewrapKEK(_ wrapped: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        guard let kek = try? oldKey.unwrap(wrapped[...], associatedData: associatedData) else { throw Self.doesNotOpen }
        return try newKey.wrap(kek, associatedData: associatedData)
    }

    /// Re-seals one stored response, or nil when it does not open (it would never replay).
    func resealResponse(_ sealed: [UInt8], associatedData: [UInt8]) throws -> [UInt8]? {
        guard let body = try? LocalVault.openDurableResponse(sealed, under: oldKey, associatedData: associatedData)
        else { return nil }
        return try LocalVault.sealDurableResponse(body, under: newKey, associatedData: associatedData)
    }

    /// The SQLite form: every KEK, every stored response, the check value and the new key's path.
    func apply(to db: Database, newKeyLocation: String) throws -> Counts {
        var counts = Counts()
        let keks = try Row.fetchAll(
            db,
            sql: "SELECT id, environment_id, context_key, context_value, version, wrapped_key FROM keks"
        )
        // Every row: each version of each pair, retired ones included (they stay in the store).
        for row in keks {
            let id: String = row["id"]
            let name = KEKRing.Name(
                environmentID: row["environment_id"],
                contextKey: row["context_key"],
                contextValue: row["context_value"]
            )
            let wrapped = try rewrapKEK(
                Array(row["wrapped_key"] as Data),
                associatedData: KEKRing.associatedData(id: id, name: name, version: row["version"])
            )
            try db.execute(
                sql: "UPDATE keks SET wrapped_key = ? WHERE id = ?",
                arguments: try StatementArguments.checked([Data(wrapped), id])
            )
            counts.keks += 1
        }
        let responses = try Row.fetchAll(
            db,
            sql: "SELECT scope, key, body FROM idempotency_keys WHERE body IS NOT NULL"
        )
        for row in responses {
            let scope: String = row["scope"]
            let key: String = row["key"]
            let associatedData = LocalVault.responseAssociatedData(scope: scope, key: key)
            let arguments = try StatementArguments.checked([scope, key])
            if let resealed = try resealResponse(Array(row["body"] as Data), associatedData: associatedData) {
                try db.execute(
                    sql: "UPDATE idempotency_keys SET body = ? WHERE scope = ? AND key = ?",
                    arguments: try StatementArguments.checked([Data(resealed), scope, key])
                )
                counts.resealedResponses += 1
            } else {
                try db.execute(sql: "DELETE FROM idempotency_keys WHERE scope = ? AND key = ?", arguments: arguments)
                counts.droppedResponses += 1
            }
        }
        try db.execute(
            sql: "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            arguments: [RootKeyCheck.metaName, Data(try RootKeyCheck.checkValue(for: newKey))]
        )
        try db.execute(
            sql: "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            arguments: [RootKeyRotation.locationMetaName, Data(newKeyLocation.utf8)]
        )
        return counts
    }
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
    ) throws -> RootKeyRotationReport {
        try RootKeyRotation.rotate(configuration: configuration, newKeyFile: newKeyFile, stoppingAfter: nil)
    }
}
