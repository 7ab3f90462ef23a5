import Foundation
import LocalVault
import Logging
import ServiceLifecycle

/// Purges the deleted objects whose purge is due, every ``LocalVault/purgeInterval`` (at most a
/// minute, so that an object is purged at most that late), until graceful shutdown.
struct PurgeService: Service {
    let vault: LocalVault
    let logger: Logger

    func run() async throws {
        // Cancellation (the sleep throwing at graceful shutdown) is the normal way out.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await purgeOnce()
                try await Task.sleep(for: vault.purgeInterval)
            }
        }
    }

    func purgeOnce() async {
        do {
            let purged = try await vault.purgeDueObjects()
            if purged > 0 { logger.info("purged deleted objects", metadata: ["count": "\(purged)"]) }
        } catch {
            logger.error("purging deleted objects failed", metadata: ["error": "\(type(of: error))"])
        }
    }
}
