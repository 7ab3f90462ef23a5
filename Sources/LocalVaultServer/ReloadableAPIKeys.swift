import Synchronization

/// The accepted API keys in force: read on every request, replaced as a whole on SIGHUP. A
/// request authenticates against the ring that was current when it arrived.
final class ReloadableAPIKeys: Sendable {
    private let ring: Mutex<APIKeyRing>

    init(_ ring: APIKeyRing) {
        self.ring = Mutex(ring)
    }

    /// The ring in force; a copy (its storage is shared), so the key hash runs outside the lock.
    var current: APIKeyRing { ring.withLock { $0 } }

    /// Puts `ring` in force for the requests that arrive from now on.
    func replace(with ring: APIKeyRing) {
        self.ring.withLock { $0 = ring }
    }
}
