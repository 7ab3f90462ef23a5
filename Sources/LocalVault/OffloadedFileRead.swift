import Dispatch
import Synchronization

/// Blocking file work (a key file on a slow or hung file system) run on threads of its own, with a
/// deadline: the caller's executor (an event loop, in the server) never blocks on it.
///
/// A read that misses its deadline keeps its thread until the file system answers; the caller
/// gets ``TimedOut`` at once. Only regular files are read (``KeyFile`` refuses FIFOs and devices
/// without blocking), so a stuck read needs a stuck file system.
enum OffloadedFileRead {
    /// The work did not finish within its deadline.
    struct TimedOut: Error {}

    private static let queue = DispatchQueue(label: "LocalVault.file-reads", attributes: .concurrent)

    /// Runs `work` on the file-read queue; throws ``TimedOut`` if it has not finished after `timeout`.
    static func run<Value: Sendable>(
        timeout: Duration,
        _ work: @escaping @Sendable () throws -> Value
    ) async throws -> Value {
        let outcome = Outcome<Value>()
        return try await withCheckedThrowingContinuation { continuation in
            outcome.wait(with: continuation)
            queue.async { outcome.finish(with: Result { try work() }) }
            let (seconds, attoseconds) = timeout.components
            queue.asyncAfter(deadline: .now() + Double(seconds) + Double(attoseconds) / 1e18) {
                outcome.finish(with: .failure(TimedOut()))
            }
        }
    }

    /// Resumes the continuation once, with whichever of the work and the deadline comes first.
    private final class Outcome<Value: Sendable>: Sendable {
        private let continuation = Mutex<CheckedContinuation<Value, any Error>?>(nil)

        func wait(with continuation: CheckedContinuation<Value, any Error>) {
            self.continuation.withLock { $0 = continuation }
        }

        func finish(with result: Result<Value, any Error>) {
            continuation.withLock { $0.take() }?.resume(with: result)
        }
    }
}
