import LocalVault
import Logging
import PostgresNIO
import Synchronization

/// How a process holds a PostgreSQL store while it has it open.
package enum PostgresStoreUse: Sendable {
    /// Any number of processes at once (`vault serve` instances, embedded vaults).
    case shared
    /// One process and no other (a `vault admin` command, a root-key rotation).
    case exclusive
}

/// The database's counterpart of a data folder's `vault.lock` (StoreLock): a session-level
/// advisory lock, held on a connection of its own (outside the pool) for as long as the value
/// lives. Every open vault holds it shared; an admin command holds it exclusive, so that no
/// instance keeps working with KEKs it cached (or a root key) that the command replaces.
///
/// PostgreSQL releases a session lock when its connection ends: if the connection is lost (a
/// database restart), the lock is taken again on a new connection as soon as the database is
/// back. Logs name the database without its password, never a query.
final class PostgresStoreLock: Sendable {
    /// The advisory lock's key (an arbitrary constant of this module, apart from the migration's
    /// and the purge's).
    static let key: Int64 = 0x4C56_5553_4552_0001

    /// How long a shared open waits for an exclusive holder to finish before it fails.
    static let defaultSharedWait = Duration.seconds(30)
    /// How long an exclusive open waits before it is refused: long enough for a vault released a
    /// moment before (its connection still closing, on a loaded machine) to let go, far too short to
    /// wait for a server.
    static let defaultExclusiveWait = Duration.seconds(10)

    private let holder: Holder
    private let supervisor: Task<Void, Never>

    /// Takes the lock on `connection`, which it keeps (and closes when released).
    /// - Throws: ``LocalVaultError`` (internalError) when another process holds the lock in a
    ///   conflicting way past `wait`, or the database fails.
    init(
        _ use: PostgresStoreUse,
        on connection: PostgresConnection,
        url: PostgresDatabaseURL,
        wait: Duration?,
        logger: Logger?
    ) async throws {
        let wait = wait ?? (use == .shared ? Self.defaultSharedWait : Self.defaultExclusiveWait)
        let deadline = ContinuousClock.now + wait
        while !(try await Self.tryTake(use, on: connection)) {
            guard ContinuousClock.now < deadline else {
                throw use == .exclusive
                    ? LocalVaultError(
                        .internalError,
                        "the database at \(url.redactedDescription) is open in another process "
                            + "(a running vault serve?): stop it first"
                    )
                    : LocalVaultError(
                        .internalError,
                        "the database at \(url.redactedDescription) stayed locked by an admin command "
                            + "(vault admin): retry when it has ended"
                    )
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let holder = Holder(connection)
        self.holder = holder
        supervisor = Task {
            await Self.keep(use, holder: holder, url: url, logger: logger)
        }
    }

    deinit {
        supervisor.cancel()
        holder.release()
    }

    /// Releases the lock and returns once the database has let it go: unlocked on its
    /// connection, then the connection closed (not merely asked to close, as `deinit` does).
    func release() async {
        supervisor.cancel()
        guard let connection = holder.take() else { return }
        try? await connection.run("SELECT pg_advisory_unlock_all()")
        try? await connection.close()
    }

    /// One attempt, without waiting.
    private static func tryTake(_ use: PostgresStoreUse, on connection: PostgresConnection) async throws -> Bool {
        let query: StorageQuery =
            switch use {
            case .shared: "SELECT pg_try_advisory_lock_shared(\(key))"
            case .exclusive: "SELECT pg_try_advisory_lock(\(key))"
            }
        return try await connection.rows(query)[0].decode(Bool.self)
    }

    /// Waits for the lock's connection to end, then takes the lock again on a new one (every
    /// second until the database is back and no conflicting holder is left), until released.
    private static func keep(
        _ use: PostgresStoreUse,
        holder: Holder,
        url: PostgresDatabaseURL,
        logger: Logger?
    ) async {
        let metadata: Logger.Metadata = ["database": "\(url.redactedDescription)"]
        while !Task.isCancelled, let connection = holder.current {
            try? await connection.closeFuture.get()
            // Ended by the server, it is closed on our side too: PostgresNIO requires that of
            // every connection before it is released.
            try? await connection.close()
            guard !Task.isCancelled else { return }
            logger?.warning("lost the connection holding the store lock; taking the lock again", metadata: metadata)
            var attempts = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                attempts += 1
                guard let next = try? await PostgresStorage.connect(url, within: PostgresStorage.defaultConnectTimeout)
                else { continue }
                if (try? await tryTake(use, on: next)) == true {
                    guard holder.replace(with: next) else { return }
                    logger?.notice("took the store lock again", metadata: metadata)
                    break
                }
                try? await next.close()
                if attempts % 30 == 0 {
                    logger?.warning(
                        "the store lock is still held in a conflicting way by another process (an admin command?)",
                        metadata: metadata
                    )
                }
            }
        }
    }

    /// The connection that holds the lock, shared between the value and its supervising task.
    private final class Holder: Sendable {
        private let state: Mutex<(connection: PostgresConnection?, released: Bool)>

        init(_ connection: PostgresConnection) { state = Mutex((connection, false)) }

        var current: PostgresConnection? { state.withLock { $0.released ? nil : $0.connection } }

        /// Keeps `connection` as the lock's; false (and closes it) once released.
        func replace(with connection: PostgresConnection) -> Bool {
            let kept = state.withLock { state in
                guard !state.released else { return false }
                state.connection = connection
                return true
            }
            if !kept { Self.close(connection) }
            return kept
        }

        /// Ends the lock: its connection closes, and the database releases it.
        func release() {
            if let connection = take() { Self.close(connection) }
        }

        /// Marks the lock released and hands over its connection, for the caller to close.
        func take() -> PostgresConnection? {
            state.withLock { state in
                state.released = true
                return state.connection.take()
            }
        }

        /// Closes without waiting, keeping the connection alive until it is closed (PostgresNIO
        /// requires a connection to be closed before it is released).
        private static func close(_ connection: PostgresConnection) {
            let future: EventLoopFuture<Void> = connection.close()
            future.whenComplete { _ in withExtendedLifetime(connection) {} }
        }
    }
}
