import Foundation
import LocalVault
import Logging
import ServiceLifecycle

/// Purges the deleted objects whose purge is due, every ``LocalVault/purgeInterval`` (at most a
/// minute, so that an object is purged at most that late), and the events older than
/// `eventRetention`, until graceful shutdown.
struct PurgeService: Service {
    let vault: LocalVault
    let logger: Logger
    /// Events older than this are deleted; nil keeps them.
    var eventRetention: Duration?

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
        await purgeOldEvents()
    }

    func purgeOldEvents(now: Date = Date()) async {
        guard let eventRetention else { return }
        let cutoff = now.addingTimeInterval(-Double(eventRetention.components.seconds))
        do {
            let purged = try await vault.purgeEvents(createdBefore: cutoff)
            if purged > 0 { logger.info("purged old events", metadata: ["count": "\(purged)"]) }
        } catch {
            logger.error("purging old events failed", metadata: ["error": "\(type(of: error))"])
        }
    }
}
