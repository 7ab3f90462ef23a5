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
            let caller = VaultCaller(environmentID: LocalVault.defaultEnvironmentID, actor: Actor(id: "k", name: "k"))
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

    @Test("vault serve refuses a negative --purge-delay")
    func negativeDelay() async throws {
        let result = try await VaultProcess.run(["serve", "--purge-delay=-1"])
        #expect(result.status != 0)
        #expect(result.error.contains("--purge-delay must be 0 or more seconds"))
    }
}
