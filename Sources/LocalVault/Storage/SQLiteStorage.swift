import Foundation
import GRDB
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The SQLite store (GRDB, WAL): ``VaultStorage`` for one process at a time on one machine, the
/// embedded default. Holds only wrapped KEKs and encrypted values: no plaintext value, data key
/// or KEK is ever written. Every write commits with `synchronous = FULL` before it is
/// acknowledged, so a `kill -9` (or a power cut) never loses an acknowledged write.
///
/// The store's files (`vault.sqlite`, `-wal`, `-shm`) are private to the owner (0600): they hold
/// names, key contexts and wrapped keys. After every purge the WAL is emptied, so that the page
/// images of purged rows do not linger in it.
///
/// The operations are in the `SQLiteStorage+*.swift` files, one per kind of row; each is one
/// transaction, and GRDB's errors leave it as ``StorageError``.
final class SQLiteStorage: VaultStorage {
    /// The store's file in a data folder.
    static let fileName = "vault.sqlite"

    let pool: DatabasePool
    private let pendingTruncation = Mutex(false)

    init(path: String) throws {
        try Self.makePrivate(path: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Deleted content is overwritten with zeros, so that a purged value leaves no
            // recoverable bytes in the file. It costs a write of the freed bytes on delete only.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        // GRDB turns WAL on after `prepareDatabase`, and sets the writer's `synchronous` to NORMAL
        // with it (commits then reach the disk at checkpoints only): FULL again, so that each
        // commit is synced before it returns.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(pool)
    }

    /// Opens (or creates) the store in a data folder.
    /// - Throws: ``LocalVaultError`` naming the folder (and SQLite's code, never SQL).
    static func opened(in directory: String) throws -> SQLiteStorage {
        do {
            return try SQLiteStorage(path: (directory as NSString).appendingPathComponent(fileName))
        } catch let error as LocalVaultError {
            throw error
        } catch {
            let reason = LocalVaultError(storageFailure: error)?.message ?? "\(error)"
            throw LocalVaultError(.internalError, "cannot open the store in \(directory): \(reason)")
        }
    }

    // MARK: Transactions

    /// A read, its GRDB error mapped.
    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.mapped(error)
        }
    }

    /// A write transaction (GRDB opens it `IMMEDIATE`: it holds the write lock from its first
    /// read, in every process), its GRDB error mapped.
    func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw Self.mapped(error)
        }
    }

    /// A write transaction of another `kind` (`.exclusive` keeps even readers out).
    func write<T: Sendable>(
        _ kind: Database.TransactionKind,
        _ body: @Sendable (Database) throws -> T
    ) async throws -> T {
        do {
            return try await pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(kind) {
                    result = try body(db)
                    return .commit
                }
                // Set: the transaction ran the body, or threw.
                return result!
            }
        } catch {
            throw Self.mapped(error)
        }
    }

    // MARK: The WAL after purges

    /// Moves the WAL's content into the database file and empties the WAL, so that the page
    /// images of purged rows no longer linger there. A reader in the way (past the busy
    /// timeout) leaves the WAL as it is, and ``walTruncationPending`` set until a later call
    /// succeeds: the answer is whether it was emptied.
    @discardableResult
    func truncateWAL() async -> Bool {
        do {
            try await pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
            pendingTruncation.withLock { $0 = false }
            return true
        } catch {
            pendingTruncation.withLock { $0 = true }
            return false
        }
    }

    /// Whether a purge's WAL truncation failed and is still to do.
    var walTruncationPending: Bool { pendingTruncation.withLock { $0 } }

    // MARK: Files

    /// Creates the database file with mode 0600 before SQLite opens it (SQLite gives the `-wal`
    /// and `-shm` files it creates the database file's mode), and narrows the files of a store
    /// created before this rule to 0600.
    private static func makePrivate(path: String) throws {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw LocalVaultError(.internalError, "cannot create or open \(path): \(String(cString: strerror(errno)))")
        }
        _ = fchmod(descriptor, 0o600)
        close(descriptor)
        for suffix in ["-wal", "-shm"] { _ = chmod(path + suffix, 0o600) }
    }
}
