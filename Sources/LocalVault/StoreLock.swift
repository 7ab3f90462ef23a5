import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An advisory lock on a store's folder (`flock` on `vault.lock`), held for as long as the value
/// lives. Every open ``LocalVault`` holds it shared; a root-key rotation holds it exclusive, so
/// that no process keeps working under the old root key (wrapping a new KEK under it, say) while
/// the store moves to the new one. The kernel releases it when its process dies.
final class StoreLock: Sendable {
    /// The lock file in the data folder; it holds nothing.
    static let fileName = "vault.lock"

    /// The lock file's descriptor, nil once released.
    private let descriptor: Mutex<Int32?>

    /// Takes the lock. A shared lock waits up to `wait` for a rotation to end; an exclusive
    /// lock never waits.
    /// - Throws: ``LocalVaultError`` when the lock is held by another process (or another open
    ///   vault in this one), or the lock file cannot be created.
    init(directory: String, exclusive: Bool, wait: Duration = .seconds(30)) throws {
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw LocalVaultError(
                .internalError,
                "cannot create the lock file \(path): \(String(cString: strerror(errno)))"
            )
        }
        let deadline = ContinuousClock.now + (exclusive ? .zero : wait)
        while flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            let busy = errno == EWOULDBLOCK || errno == EINTR
            guard busy, ContinuousClock.now < deadline else {
                close(descriptor)
                throw exclusive
                    ? LocalVaultError(
                        .internalError,
                        "the store in \(directory) is open in another process (a running vault serve?): stop it first"
                    )
                    : LocalVaultError(
                        .internalError,
                        "the store in \(directory) stayed locked by a root-key rotation: retry when it has ended"
                    )
            }
            usleep(50_000)
        }
        self.descriptor = Mutex(descriptor)
    }

    /// Lets the lock go now rather than when the value is released.
    func release() {
        if let descriptor = descriptor.withLock({ $0.take() }) { close(descriptor) }
    }

    deinit { release() }
}
