import Logging
import Synchronization
import Testing

@testable import LocalVaultServer

@Suite("Connection registry")
struct ConnectionRegistryTests {
    /// Records which connections the registry closed.
    final class Closed: Sendable {
        let ids = Mutex<[String]>([])
        func closer(_ name: String) -> @Sendable () -> Void { { self.ids.withLock { $0.append(name) } } }
        var names: [String] { ids.withLock { $0 } }
    }

    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("at the cap, the connection waiting longest is closed, never one answering a request")
    func closesLongestWaiting() {
        let registry = ConnectionRegistry(capacity: 3, logger: Self.logger)
        let closed = Closed()
        let a = registry.opened(close: closed.closer("a"))
        _ = registry.opened(close: closed.closer("b"))
        registry.requestStarted(a)
        _ = registry.opened(close: closed.closer("c"))
        #expect(closed.names == ["b"])
        // a answered and waits again: it is now the longest waiting after c.
        registry.waiting(a)
        _ = registry.opened(close: closed.closer("d"))
        #expect(closed.names == ["b", "c"])
    }

    @Test("closed connections are forgotten; with none waiting, nothing is closed")
    func closedAndBusyAreNotClosed() {
        let registry = ConnectionRegistry(capacity: 2, logger: Self.logger)
        let closed = Closed()
        let a = registry.opened(close: closed.closer("a"))
        registry.closed(a)
        let b = registry.opened(close: closed.closer("b"))
        registry.requestStarted(b)
        let c = registry.opened(close: closed.closer("c"))
        registry.requestStarted(c)
        _ = registry.opened(close: closed.closer("d"))
        #expect(closed.names.isEmpty)
        #expect(registry.openConnections == 3)
    }

    @Test("500,000 requests on five connections keep the waiting queue small")
    func queueStaysBounded() {
        let registry = ConnectionRegistry(capacity: 100, logger: Self.logger)
        let closed = Closed()
        let ids = (0..<5).map { registry.opened(close: closed.closer("\($0)")) }
        for round in 0..<200_000 {
            for id in ids where (round + Int(id)) % 2 == 0 {
                registry.requestStarted(id)
                registry.waiting(id)
            }
        }
        #expect(registry.queuedEntries <= 2 * 5 + 1_024 + 1)
        #expect(closed.names.isEmpty)
    }
}
