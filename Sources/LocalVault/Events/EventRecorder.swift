import Synchronization

/// Makes read events durable in group commits: callers queue their events and wait; one writer
/// task appends everything queued in one transaction, then resumes each caller (with the
/// commit's outcome) and starts again with what arrived meanwhile. Concurrent reads thus share a
/// commit (and its `fsync`), and no caller goes on before its event is committed.
final class EventRecorder: Sendable {
    private struct Waiter {
        let events: [NewVaultEvent]
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var queue: [Waiter] = []
        var writing = false
    }

    private let storage: any VaultStorage
    private let state = Mutex(State())
    /// The most events one transaction appends; the rest wait for the next.
    private static let batchLimit = 1000

    init(storage: any VaultStorage) {
        self.storage = storage
    }

    /// Returns once `events` are committed.
    /// - Throws: the storage's error when the commit that held them failed.
    func record(_ events: [NewVaultEvent]) async throws {
        guard !events.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let startsWriter = state.withLock { state in
                state.queue.append(Waiter(events: events, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if startsWriter { Task { await self.drain() } }
        }
    }

    /// Commits batches until the queue is empty.
    private func drain() async {
        while true {
            await gather()
            guard let batch = nextBatch() else { return }
            do {
                try await storage.appendEvents(batch.flatMap(\.events))
                for waiter in batch { waiter.continuation.resume() }
            } catch {
                for waiter in batch { waiter.continuation.resume(throwing: error) }
            }
        }
    }

    /// Yields to the tasks ready to run before a commit, while that grows the queue: requests
    /// about to record their event join this commit rather than wait for the next one, so that a
    /// commit (and its `fsync`) is shared by more of them. Costs nothing measurable when idle.
    private func gather() async {
        var queued = state.withLock { $0.queue.count }
        var idleRounds = 0
        for _ in 0..<Self.gatherRounds where idleRounds < 2 {
            await Task.yield()
            let now = state.withLock { $0.queue.count }
            idleRounds = now > queued ? 0 : idleRounds + 1
            queued = now
        }
    }

    /// The most yields before a commit.
    private static let gatherRounds = 8

    /// The waiters of the next commit; nil (and the writer stops) when none wait.
    private func nextBatch() -> [Waiter]? {
        state.withLock { state in
            guard !state.queue.isEmpty else {
                state.writing = false
                return nil
            }
            var count = 0
            var taken = 0
            for waiter in state.queue {
                if taken > 0 && count + waiter.events.count > Self.batchLimit { break }
                count += waiter.events.count
                taken += 1
            }
            let batch = Array(state.queue.prefix(taken))
            state.queue.removeFirst(taken)
            return batch
        }
    }
}
