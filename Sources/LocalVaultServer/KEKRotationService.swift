import Foundation
import LocalVault
import Logging
import ServiceLifecycle

/// `vault serve --kek-max-age`: every hour (and at start), gives a new version to every KEK whose
/// newest version is older than the maximum age. This server's cache uses the new version at once,
/// other instances on a shared database within their KEK cache's time to live; data keys under
/// older versions still decrypt. Every instance may run it: the store lets one rotate at a time
/// and re-reads the due pairs under its lock, so each due pair gets one new version. Names and
/// counts are logged, never a key.
struct KEKRotationService: Service {
    let vault: LocalVault
    let maxAge: Duration
    let logger: Logger
    var interval: Duration = .seconds(3_600)

    func run() async throws {
        // Cancellation (the sleep throwing at graceful shutdown) is the normal way out.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await rotateOnce()
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One check; failures are logged and retried at the next one.
    func rotateOnce(now: Date = Date()) async {
        do {
            let rotated = try await vault.rotateKEKs(olderThan: maxAge, now: now)
            if !rotated.isEmpty {
                logger.notice(
                    "rotated key-encrypting keys past their maximum age",
                    metadata: ["count": "\(rotated.count)"]
                )
            }
        } catch {
            logger.error("rotating key-encrypting keys failed", metadata: ["error": "\(type(of: error))"])
        }
    }
}
