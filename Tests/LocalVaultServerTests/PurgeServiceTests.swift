import Foundation
import LocalVault
import Logging
import Testing
import VaultAPI

@testable import LocalVaultServer

@Suite("the purge service")
struct PurgeServiceTests {
    @Test("purges a deleted object once its delay has passed, and stops when cancelled")
    func purgesDueObjects() async throws {
        try await withTemporaryDirectory { directory in
            let vault = try LocalVault(
                configuration: LocalVaultConfiguration(
                    dataDirectory: directory,
                    rootKey: .file((directory as NSString).appendingPathComponent("root.key")),
                    purgeDelay: .seconds(1),
                    purgesInBackground: false
                )
            )
            let caller = VaultCaller(
                environmentID: LocalVault.defaultEnvironmentID,
                actor: VaultActor(id: "k", name: "k")
            )
            let created = try await vault.createObject(name: "n", value: "v", context: ["a": "1"], caller: caller)
            _ = try await vault.deleteObject(id: created.id, versionCheck: nil, environmentID: caller.environmentID)
            #expect(try await vault.pendingPurges() == 1)
            let service = PurgeService(
                vault: vault,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            let running = Task { try await service.run() }
            let deadline = ContinuousClock.now + .seconds(60)
            while try await vault.pendingPurges() > 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await vault.pendingPurges() == 0)
            running.cancel()
            try await running.value
        }
    }

    @Test("deletes the events older than the retention, and none without one")
    func eventRetention() async throws {
        try await withTemporaryDirectory { directory in
            let vault = try LocalVault(
                configuration: LocalVaultConfiguration(
                    dataDirectory: directory,
                    rootKey: .file((directory as NSString).appendingPathComponent("root.key")),
                    purgesInBackground: false,
                    recordsEvents: true
                )
            )
            let caller = VaultCaller(
                environmentID: LocalVault.defaultEnvironmentID,
                actor: VaultActor(id: "k", name: "k")
            )
            for _ in 0..<3 { _ = try await vault.createDataKey(context: ["a": "1"], caller: caller) }
            func count() async throws -> Int {
                try await vault.listEvents(
                    EventListQuery(events: [.dekRead], limit: 100),
                    environmentID: caller.environmentID
                )
                .data.count
            }
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            // Kept for ever: nothing goes, whatever the clock says.
            await PurgeService(vault: vault, logger: logger).purgeOldEvents(now: Date().addingTimeInterval(1e9))
            #expect(try await count() == 3)
            let service = PurgeService(vault: vault, logger: logger, eventRetention: .seconds(90 * 86_400))
            await service.purgeOldEvents()
            #expect(try await count() == 3, "younger than 90 days")
            await service.purgeOldEvents(now: Date().addingTimeInterval(91 * 86_400))
            #expect(try await count() == 0)
            #expect(try await vault.verifyEvents().allSatisfy { $0.broken == nil })
        }
    }

    @Test("vault serve refuses a --event-retention out of range and an --events other than on or off")
    func badEventOptions() async throws {
        let retention = try await VaultProcess.run(["serve", "--event-retention=-1"])
        #expect(retention.status != 0)
        #expect(retention.error.contains("--event-retention must be 0 to 36500 days"))
        let events = try await VaultProcess.run(["serve", "--events", "maybe"])
        #expect(events.status != 0)
    }

    @Test("vault serve refuses a negative --purge-delay")
    func negativeDelay() async throws {
        let result = try await VaultProcess.run(["serve", "--purge-delay=-1"])
        #expect(result.status != 0)
        #expect(result.error.contains("--purge-delay must be 0 or more seconds"))
    }
}
