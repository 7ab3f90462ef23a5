import Foundation
import GRDB

/// What ``LocalVault/backUpStore(dataDirectory:to:)`` copied.
public struct StoreBackupReport: Sendable, Hashable {
    /// Live and deleted objects in the copy.
    public var objects: Int
    /// Object versions in the copy.
    public var objectVersions: Int
    /// Key-encrypting keys (every version, retired ones included) in the copy.
    public var keks: Int
    /// The copy's size in bytes.
    public var bytes: Int
}

extension LocalVault {
    /// Copies the SQLite store of `dataDirectory` into `destination` with SQLite's online backup
    /// API: one read transaction, so the copy is the store at one instant even while a
    /// `vault serve` writes to it (the store's lock is taken shared, as a server takes it; only a
    /// root-key rotation, which holds it exclusive, is waited for). Only the store's file is
    /// copied: the root key never is, and the copy opens only with the store's root key.
    ///
    /// `destination` must be an empty file the caller created (0600): the copy is written into it
    /// as one self-contained file (rollback journal, no `-wal`), then checked with `quick_check`.
    /// - Throws: ``LocalVaultError`` when the folder holds no store, the lock is held by a
    ///   rotation, or SQLite fails (its code, never SQL or values).
    public static func backUpStore(dataDirectory: String, to destination: String) throws -> StoreBackupReport {
        let source = (dataDirectory as NSString).appendingPathComponent(SQLiteStorage.fileName)
        guard FileManager.default.fileExists(atPath: source) else {
            throw LocalVaultError(.notFound, "no store in \(dataDirectory): \(SQLiteStorage.fileName) does not exist")
        }
        let lock = try StoreLock(directory: dataDirectory, exclusive: false)
        defer { lock.release() }
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            let store = try DatabaseQueue(path: source, configuration: configuration)
            let copy = try DatabaseQueue(path: destination, configuration: configuration)
            try store.backup(to: copy)
            try store.close()
            let report = try copy.writeWithoutTransaction { db in
                // The source is in WAL mode, and so is the copy of its header: one file instead.
                try db.execute(sql: "PRAGMA journal_mode = DELETE")
                guard try String.fetchOne(db, sql: "PRAGMA quick_check") == "ok" else {
                    throw LocalVaultError(.internalError, "the copy of the store does not pass SQLite's quick_check")
                }
                return StoreBackupReport(
                    objects: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM objects") ?? 0,
                    objectVersions: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM object_versions") ?? 0,
                    keks: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM keks") ?? 0,
                    bytes: 0
                )
            }
            try copy.close()
            let size = (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? Int) ?? nil
            return StoreBackupReport(
                objects: report.objects,
                objectVersions: report.objectVersions,
                keks: report.keks,
                bytes: size ?? 0
            )
        } catch let error as LocalVaultError {
            throw error
        } catch {
            let reason = LocalVaultError(storageFailure: error)?.message ?? "\(type(of: error))"
            throw LocalVaultError(.internalError, "cannot back up the store in \(dataDirectory): \(reason)")
        }
    }
}
