import Logging
import Synchronization

/// The open connections of one server, for the connection cap: at the cap, a new connection
/// closes the one that has waited longest without a request in progress, so that clients that
/// hold connections open and silent (or send a request head byte by byte) cannot keep a real
/// client out. Connections answering a request are never closed for the cap.
///
/// Connections live on several event loops, hence the lock. Waiting connections form a queue in
/// the order they started to wait; an entry left behind when a connection got a request or
/// closed is skipped when met and swept out in bulk, so each operation is O(1) amortized.
final class ConnectionRegistry: Sendable {
    /// The cap.
    let capacity: Int
    private let logger: Logger
    private let state: Mutex<State>

    /// When the "at the cap" warning may be logged again.
    private static let warningInterval: Duration = .seconds(60)

    struct Waiting {
        let id: UInt64
        let ticket: UInt64
    }

    struct State {
        /// How to close each open connection.
        var closers: [UInt64: @Sendable () -> Void] = [:]
        var nextID: UInt64 = 0
        var nextTicket: UInt64 = 0
        /// The ticket of each waiting connection's current queue entry.
        var waitingTicket: [UInt64: UInt64] = [:]
        var queue: [Waiting] = []
        var queueStart = 0
        var lastWarning: ContinuousClock.Instant?
    }

    init(capacity: Int, logger: Logger) {
        self.capacity = max(1, capacity)
        self.logger = logger
        self.state = Mutex(State())
    }

    /// The number of connections open.
    var openConnections: Int { state.withLock { $0.closers.count } }

    /// The entries of the waiting queue, stale ones included (for tests of its bound).
    var queuedEntries: Int { state.withLock { $0.queue.count - $0.queueStart } }

    /// Registers a new connection, waiting for its first request, and closes the longest waiting
    /// other connection if the cap is reached.
    /// - Parameter close: closes the connection (from any thread).
    /// - Returns: the connection's id in this registry.
    func opened(close: @escaping @Sendable () -> Void) -> UInt64 {
        let now = ContinuousClock.now
        let (id, evicted, warn) = state.withLock { state -> (UInt64, (@Sendable () -> Void)?, Bool) in
            let id = state.nextID
            state.nextID += 1
            state.closers[id] = close
            var evicted: (@Sendable () -> Void)?
            var warn = false
            if state.closers.count >= capacity {
                evicted = Self.takeLongestWaiting(&state)
                if state.lastWarning.map({ now - $0 >= Self.warningInterval }) ?? true {
                    state.lastWarning = now
                    warn = true
                }
            }
            Self.enqueue(id: id, in: &state)
            return (id, evicted, warn)
        }
        if warn {
            logger.warning(
                "connection cap reached: closing the connections that wait longest without a request",
                metadata: ["max_connections": "\(capacity)"]
            )
        }
        evicted?()
        return id
    }

    /// The connection received a request head: it is no longer a candidate for closing.
    func requestStarted(_ id: UInt64) {
        state.withLock { _ = $0.waitingTicket.removeValue(forKey: id) }
    }

    /// The connection answered all its requests and waits for the next.
    func waiting(_ id: UInt64) {
        state.withLock { Self.enqueue(id: id, in: &$0) }
    }

    /// The connection closed.
    func closed(_ id: UInt64) {
        state.withLock { state in
            state.closers.removeValue(forKey: id)
            state.waitingTicket.removeValue(forKey: id)
        }
    }

    private static func enqueue(id: UInt64, in state: inout State) {
        let ticket = state.nextTicket
        state.nextTicket += 1
        state.waitingTicket[id] = ticket
        state.queue.append(Waiting(id: id, ticket: ticket))
        // Sweep stale entries once they outnumber live ones by far; the sweep costs the number
        // of entries, paid for by the appends since the last one.
        let entries = state.queue.count - state.queueStart
        if entries > 2 * state.waitingTicket.count + 1_024 {
            let live = state.queue[state.queueStart...].filter { state.waitingTicket[$0.id] == $0.ticket }
            state.queue = Array(live)
            state.queueStart = 0
        }
    }

    private static func takeLongestWaiting(_ state: inout State) -> (@Sendable () -> Void)? {
        defer {
            if state.queueStart > 1_024, state.queueStart * 2 > state.queue.count {
                state.queue.removeFirst(state.queueStart)
                state.queueStart = 0
            }
        }
        while state.queueStart < state.queue.count {
            let entry = state.queue[state.queueStart]
            state.queueStart += 1
            if state.waitingTicket[entry.id] == entry.ticket {
                state.waitingTicket.removeValue(forKey: entry.id)
                return state.closers[entry.id]
            }
        }
        return nil
    }
}
