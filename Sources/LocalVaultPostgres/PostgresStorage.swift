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
    /// The event chain heads this instance committed last, by environment: where its next group
    /// commit of events most likely goes (a hint, checked by the statement that uses it).
    let knownEventHeads = Mutex<[String: EventChainHead]>([:])

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

    package func shutDown() async {
        await storeLock.release()
        runTask.cancel()
    }

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

    /// How long an operation waits for a pooled connection. While the database is down or
    /// restarting the pool cannot make one: the operation then fails as unavailable (a 503 the
    /// client retries) instead of holding the request until the pool gives up (a minute).
    static let leaseBound = Duration.seconds(5)

    /// How long one operation may take, its connection included, unless it says otherwise. A
    /// query sent on a connection the server has just ended was seen never to complete in
    /// PostgresNIO 1.33.2 (the pool leased the closing connection again): past this bound the
    /// operation fails as unavailable and is abandoned, rather than holding a request forever.
    static let operationBound = Duration.seconds(30)

    /// `body` on a pooled connection, its failures as the engine sees them (``PostgresFailure``).
    /// Either `body` runs to its end or not at all: a connection that arrives after the lease
    /// bound is handed back unused. Past `bound` the caller gets `unavailable` at once.
    func withConnection<Result: Sendable>(
        bound: Duration = PostgresStorage.operationBound,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let lease = Lease()
        let client = self.client
        let outcome = await Deadline.race(bound, earlyExit: (Self.leaseBound, { lease.expire() })) {
            try await client.withConnection { connection in
                guard lease.start() else { throw Self.noConnection }
                return try await body(connection)
            }
        } abandoned: { _ in
        }
        switch outcome {
        case .finished(.success(let result)): return result
        case .finished(.failure(let error)): throw VaultMetrics.counted(PostgresFailure.storageError(error))
        case .timedOut:
            if lease.hasExpired { throw VaultMetrics.counted(Self.noConnection) }
            throw VaultMetrics.counted(
                StorageError.unavailable("the database did not answer within \(bound.components.seconds) seconds")
            )
        }
    }

    static let noConnection = StorageError.unavailable(
        "no database connection within \(leaseBound.components.seconds) seconds"
    )

    /// Whether an operation got its connection in time: decided once, by the first of the two.
    final class Lease: Sendable {
        private enum State { case waiting, started, expired }
        private let state = Mutex(State.waiting)

        /// The connection arrived: true unless the bound passed first.
        func start() -> Bool {
            state.withLock { state in
                guard state == .waiting else { return false }
                state = .started
                return true
            }
        }

        var hasExpired: Bool { state.withLock { $0 == .expired } }

        /// The bound passed: true unless the connection arrived first.
        func expire() -> Bool {
            state.withLock { state in
                guard state == .waiting else { return false }
                state = .expired
                return true
            }
        }
    }

    /// `body` in one transaction (READ COMMITTED), committed when it returns, rolled back when it
    /// throws (its error is rethrown as it is).
    func inTransaction<Result: Sendable>(
        bound: Duration = PostgresStorage.operationBound,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withConnection(bound: bound) { connection in
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

/// A race between an operation and a clock (the first connection at open, every operation): the
/// operation is cancelled at the deadline and not awaited (a connect that ignores cancellation is abandoned,
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

    /// - Parameter earlyExit: a shorter bound and a check made when it passes: when the check
    ///   says so (it returns true), the race ends there as timed out.
    static func race<Value: Sendable>(
        _ bound: Duration,
        earlyExit: (after: Duration, check: @Sendable () -> Bool)? = nil,
        _ operation: @escaping @Sendable () async throws -> Value,
        abandoned: @escaping @Sendable (Value) async -> Void
    ) async -> Outcome<Value> {
        let race = Race<Value>()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome<Value>, Never>) in
            race.continuation.withLock { $0 = continuation }
            let timer = Task {
                if let earlyExit {
                    try? await Task.sleep(for: earlyExit.after)
                    if !Task.isCancelled, earlyExit.check(), let continuation = race.settle() {
                        race.work.withLock { $0?.cancel() }
                        continuation.resume(returning: .timedOut)
                        return
                    }
                    try? await Task.sleep(for: bound - earlyExit.after)
                } else {
                    try? await Task.sleep(for: bound)
                }
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
