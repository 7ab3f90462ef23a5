import Synchronization

/// Whether the store answers, within a bound: `GET /health`. One probe runs at a time however
/// many health requests arrive, so that a store that hangs does not pile up probes; a request
/// waits for the running probe at most `bound`, then counts the store as unavailable.
final class StoreHealth: Sendable {
    /// How long a health request waits for the store.
    let bound: Duration
    private let probe: @Sendable () async throws -> Void
    private let running = Mutex<Task<Bool, Never>?>(nil)

    /// - Parameter probe: returns once the store answers; throws when it fails.
    init(bound: Duration = .seconds(3), probe: @escaping @Sendable () async throws -> Void) {
        self.bound = bound
        self.probe = probe
    }

    /// True when the probe (the running one, else a new one) succeeds within ``bound``.
    func isAvailable() async -> Bool {
        let probe = runningProbe()
        let outcome = FirstOutcome()
        return await withCheckedContinuation { continuation in
            outcome.set(continuation)
            let bound = self.bound
            let timer = Task {
                try? await Task.sleep(for: bound)
                outcome.resume(false)
            }
            Task {
                let answered = await probe.value
                timer.cancel()
                outcome.resume(answered)
            }
        }
    }

    /// The probe in flight, or a new one that clears itself when it ends.
    private func runningProbe() -> Task<Bool, Never> {
        running.withLock { running in
            if let running { return running }
            // The new task clears the slot under the same lock, so after this assignment.
            let task = Task { [probe] in
                let answered = (try? await probe()) != nil
                self.running.withLock { $0 = nil }
                return answered
            }
            running = task
            return task
        }
    }

    /// A continuation resumed by the first of the probe and the timer.
    private final class FirstOutcome: Sendable {
        private let continuation = Mutex<CheckedContinuation<Bool, Never>?>(nil)

        func set(_ continuation: CheckedContinuation<Bool, Never>) {
            self.continuation.withLock { $0 = continuation }
        }

        func resume(_ value: Bool) {
            continuation.withLock { $0.take() }?.resume(returning: value)
        }
    }
}
