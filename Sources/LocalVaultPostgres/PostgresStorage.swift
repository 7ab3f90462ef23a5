import LocalVault
import Logging
import PostgresNIO
import Synchronization

/// The LocalVault store on PostgreSQL, shared by several processes (`vault serve` instances).
///
/// It runs its own connection pool (a `PostgresClient` whose `run()` task is cancelled when the
/// storage is released) and migrates the schema when opened. Every check-and-write is one
/// conditional statement or holds a row lock, so it holds across processes at READ COMMITTED.
/// No value is ever written into SQL: every query binds them (``StorageQuery``).
package final class PostgresStorage: VaultStorage {
    /// The database, without its password.
    package let url: PostgresDatabaseURL
    let client: PostgresClient
    private let runTask: Task<Void, Never>
    /// Held (shared or exclusive) for as long as the storage lives: see ``PostgresStoreLock``.
    private let storeLock: PostgresStoreLock

    /// Queries are never logged: they would show names, contexts and wrapped keys.
    static let silent = Logger(label: "LocalVaultPostgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The bound of the first connection at open, unless told otherwise.
    package static let defaultConnectTimeout = Duration.seconds(10)

    /// Connects to the database (one connection, within `connectTimeout`), takes the store lock
    /// on it (``PostgresStoreLock``, kept on that connection), migrates the schema, then starts
    /// the pool.
    /// - Parameters:
    ///   - use: shared (the default) or exclusive.
    ///   - lockWait: how long to wait for a conflicting holder of the store lock (30 s for a
    ///     shared use, 3 s for an exclusive one unless given).
    ///   - logger: where to log the loss and recovery of the lock's connection; none by default.
    /// - Throws: ``LocalVaultError`` (internalError) "cannot reach the database at <url>: <why>"
    ///   when no connection is made in time (refused, authentication, TLS), when the store is
    ///   locked by another process (see ``PostgresStoreLock``), or naming the migration's failure.
    package init(
        url: PostgresDatabaseURL,
        maximumConnections: Int = 20,
        connectTimeout: Duration = PostgresStorage.defaultConnectTimeout,
        use: PostgresStoreUse = .shared,
        lockWait: Duration? = nil,
        logger: Logger? = nil
    ) async throws {
        self.url = url
        let connection = try await Self.connect(url, within: connectTimeout)
        do {
            storeLock = try await PostgresStoreLock(use, on: connection, url: url, wait: lockWait, logger: logger)
        } catch {
            try? await connection.close()
            if let error = error as? LocalVaultError { throw error }
            let reason = (PostgresFailure.storageError(error) as? StorageError).map(Self.text) ?? "\(error)"
            throw LocalVaultError(.internalError, "cannot lock the database at \(url.redactedDescription): \(reason)")
        }
        do {
            try await PostgresSchema.migrate(connection)
        } catch {
            let reason = (PostgresFailure.storageError(error) as? StorageError).map(Self.text) ?? "\(error)"
            throw LocalVaultError(
                .internalError,
                "cannot migrate the database at \(url.redactedDescription): \(reason)"
            )
        }
        let client = PostgresClient(
            configuration: url.clientConfiguration(
                maximumConnections: maximumConnections,
                connectTimeout: connectTimeout
            )
        )
        self.client = client
        runTask = Task { await client.run() }
    }

    deinit { runTask.cancel() }

    /// One connection, or a clear error within `bound` (a connection that hangs is abandoned).
    static func connect(_ url: PostgresDatabaseURL, within bound: Duration) async throws -> PostgresConnection {
        let configuration = try url.connectionConfiguration(connectTimeout: bound)
        let unreachable = { (reason: String) in
            LocalVaultError(.internalError, "cannot reach the database at \(url.redactedDescription): \(reason)")
        }
        let outcome = await Deadline.race(bound) {
            try await PostgresConnection.connect(configuration: configuration, id: 0, logger: silent)
        } abandoned: { connection in
            try? await connection.close()
        }
        switch outcome {
        case .finished(.success(let connection)): return connection
        case .finished(.failure(let error)): throw unreachable(PostgresFailure.connectFailureReason(error))
        case .timedOut: throw unreachable("no answer within \(bound.components.seconds) seconds")
        }
    }

    static func text(_ error: StorageError) -> String {
        switch error {
        case .unavailable(let text), .diskFull(let text), .failed(let text): text
        }
    }

    // MARK: Running queries

    /// `body` on a pooled connection, its failures as the engine sees them (``PostgresFailure``).
    func withConnection<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch {
            throw PostgresFailure.storageError(error)
        }
    }

    /// `body` in one transaction (READ COMMITTED), committed when it returns, rolled back when it
    /// throws (its error is rethrown as it is).
    func inTransaction<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withConnection { connection in
            try await connection.run("BEGIN")
            let result: Result
            do {
                result = try await body(connection)
            } catch {
                do {
                    try await connection.run("ROLLBACK")
                } catch {
                    // A connection whose transaction state is unknown must not go back to the pool.
                    try? await connection.close()
                }
                throw error
            }
            try await connection.run("COMMIT")
            return result
        }
    }
}

/// A race between an operation and a clock, for the first connection at open: the operation is
/// cancelled at the deadline and not awaited (a connect that ignores cancellation is abandoned,
/// and what it returns later is handed to `abandoned`).
enum Deadline {
    enum Outcome<Value: Sendable>: Sendable {
        case finished(Result<Value, any Error>)
        case timedOut
    }

    /// What both racers share: the continuation, resumed once, and the operation's task.
    private final class Race<Value: Sendable>: Sendable {
        let continuation = Mutex<CheckedContinuation<Outcome<Value>, Never>?>(nil)
        let work = Mutex<Task<Void, Never>?>(nil)

        func settle() -> CheckedContinuation<Outcome<Value>, Never>? { continuation.withLock { $0.take() } }
    }

    static func race<Value: Sendable>(
        _ bound: Duration,
        _ operation: @escaping @Sendable () async throws -> Value,
        abandoned: @escaping @Sendable (Value) async -> Void
    ) async -> Outcome<Value> {
        let race = Race<Value>()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome<Value>, Never>) in
            race.continuation.withLock { $0 = continuation }
            let timer = Task {
                try? await Task.sleep(for: bound)
                guard let continuation = race.settle() else { return }
                race.work.withLock { $0?.cancel() }
                continuation.resume(returning: .timedOut)
            }
            let work = Task {
                let result: Result<Value, any Error>
                do {
                    result = .success(try await operation())
                } catch {
                    result = .failure(error)
                }
                guard let continuation = race.settle() else {
                    if case .success(let value) = result { await abandoned(value) }
                    return
                }
                timer.cancel()
                continuation.resume(returning: .finished(result))
            }
            race.work.withLock { $0 = work }
        }
    }
}
