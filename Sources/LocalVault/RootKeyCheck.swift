import EnvelopeCrypto
import Foundation
import GRDB

/// The check that a root key is the store's own. The store keeps a random key sealed under its
/// root key (AES-256-GCM, so it proves the root key without revealing it); a root key that does
/// not open it belongs to another store. Without this a replaced `root.key` or a different
/// `VAULT_ROOT_KEY` would start, fail on all old data and write new data under the new key,
/// splitting the store.
enum RootKeyCheck {
    /// The `meta` row holding the check value.
    static let metaName = "root_key_check"
    private static let associatedData = Array("lvs.root-key-check".utf8)

    /// What the store holds before the root key is loaded.
    struct StoreState {
        /// The sealed check value, absent in stores written before it existed and in new ones.
        var checkValue: [UInt8]?
        /// Whether anything was written under a root key (KEKs, objects, a check value).
        var holdsData: Bool
        /// One stored KEK, to verify a root key against a store that has no check value yet.
        var sampleKEK: (id: String, name: KEKRing.Name, wrapped: [UInt8])?
        /// Where the last root-key rotation wrote the new key (a path, never a key).
        var rotatedKeyLocation: String?
    }

    /// Loads (or, for a store without data, creates) the root key and checks it against the store,
    /// recording the check value the first time.
    /// - Returns: the root key, and whether the store was new (nothing written under a root key yet).
    /// - Throws: ``LocalVaultError`` with rule ``LocalVaultError/Rule-swift.enum/rootKey`` when the
    ///   key is not the store's or is missing for a store that holds data.
    static func open(
        store: VaultStore,
        rootKey source: RootKeySource,
        directory: String
    ) throws -> (rootKey: DataKey, isNew: Bool, createdKeyFile: Bool, finishedRotation: Bool) {
        let state = try storage(directory) { try store.pool.read(Self.state) }
        var finishedRotation = false
        if let checkValue = state.checkValue, case .file(let path) = source {
            finishedRotation = try RootKeyRotation.finishInterrupted(keyFile: path) { opens(checkValue, with: $0) }
        }
        let (rootKey, createdKeyFile) = try source.load(mayCreate: !state.holdsData)
        let rotationHint = state.rotatedKeyLocation.map {
            "; its root key was rotated and the new key written to \($0)"
        }
        let mismatch = LocalVaultError(
            .internalError,
            "the root key does not match the store in \(directory) (root.key replaced, or \(RootKeySource.environmentVariable) "
                + "set to another key\(rotationHint ?? "")): refusing to open",
            rule: .rootKey
        )
        if let checkValue = state.checkValue {
            guard opens(checkValue, with: rootKey) else { throw mismatch }
            return (rootKey, false, createdKeyFile, finishedRotation)
        }
        // A store written before the check existed: its KEKs tell whether the key is its own.
        if let kek = state.sampleKEK {
            // Such a store predates KEK versions: its rows are all version 1.
            let associatedData = KEKRing.associatedData(id: kek.id, name: kek.name, version: 1)
            guard (try? rootKey.unwrap(kek.wrapped[...], associatedData: associatedData)) != nil else { throw mismatch }
        }
        let candidate = try rootKey.wrap(try DataKey.generate(), associatedData: associatedData)
        // Another process opening the same store at the same moment may record its value first.
        let recorded = try storage(directory) {
            try store.pool.write { db in
                try db.execute(
                    sql: "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    arguments: [metaName, Data(candidate)]
                )
                return try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE name = ?", arguments: [metaName])
            }
        }
        guard let recorded, opens(Array(recorded), with: rootKey) else { throw mismatch }
        return (rootKey, !state.holdsData, createdKeyFile, false)
    }

    /// A new check value for `rootKey`.
    static func checkValue(for rootKey: DataKey) throws -> [UInt8] {
        try rootKey.wrap(try DataKey.generate(), associatedData: associatedData)
    }

    static func opens(_ checkValue: [UInt8], with rootKey: DataKey) -> Bool {
        (try? rootKey.unwrap(checkValue[...], associatedData: associatedData)) != nil
    }

    private static func state(_ db: Database) throws -> StoreState {
        let checkValue = try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE name = ?", arguments: [metaName])
        let kek = try Row.fetchOne(
            db,
            sql: "SELECT id, environment_id, context_key, context_value, wrapped_key FROM keks LIMIT 1"
        ).map { row in
            (
                id: row["id"] as String,
                name: KEKRing.Name(
                    environmentID: row["environment_id"],
                    contextKey: row["context_key"],
                    contextValue: row["context_value"]
                ),
                wrapped: Array(row["wrapped_key"] as Data)
            )
        }
        let holdsObjects = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM objects)") ?? false
        return StoreState(
            checkValue: checkValue.map(Array.init),
            holdsData: checkValue != nil || kek != nil || holdsObjects,
            sampleKEK: kek,
            rotatedKeyLocation: try Data.fetchOne(
                db,
                sql: "SELECT value FROM meta WHERE name = ?",
                arguments: [RootKeyRotation.locationMetaName]
            ).map { String(decoding: $0, as: UTF8.self) }
        )
    }

    private static func storage<Result>(_ directory: String, _ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as LocalVaultError {
            throw error
        } catch {
            let reason = LocalVaultError(storageFailure: error)?.message ?? "\(error)"
            throw LocalVaultError(.internalError, "cannot read the store in \(directory): \(reason)")
        }
    }
}
