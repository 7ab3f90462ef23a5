import Foundation
import LocalVault
import Logging
import ServiceLifecycle

/// When deleted objects are purged for good.
public struct PurgePolicy: Sendable, Hashable {
    /// How often the purge runs (also once at start).
    public var interval: Duration
    /// How long a deleted object is kept before it is purged.
    public var retention: Duration

    public init(interval: Duration, retention: Duration) {
        self.interval = interval
        self.retention = retention
    }

    /// Every hour, purge what was deleted more than 24 hours ago.
    public static let `default` = PurgePolicy(interval: .seconds(3_600), retention: .seconds(86_400))
}

/// Purges deleted objects on a timer until graceful shutdown.
struct PurgeService: Service {
    let vault: LocalVault
    let policy: PurgePolicy
    let logger: Logger

    func run() async throws {
        // Cancellation (the sleep throwing at graceful shutdown) is the normal way out.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await purgeOnce()
                try await Task.sleep(for: policy.interval)
            }
        }
    }

    func purgeOnce() async {
        let retention = policy.retention.components
        let seconds = Double(retention.seconds) + Double(retention.attoseconds) / 1e18
        do {
            let purged = try await vault.purgeDeletedObjects(deletedBefore: Date().addingTimeInterval(-seconds))
            if purged > 0 { logger.info("purged deleted objects", metadata: ["count": "\(purged)"]) }
        } catch {
            logger.error("purging deleted objects failed", metadata: ["error": "\(type(of: error))"])
        }
    }
}
