import Foundation
import LocalVault
import Synchronization
import Testing
import VaultAPI
import WorkOSVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read is acknowledged only once its event is durable: `kill -9` right after acknowledged
/// reads loses none of their `vault.data.read` events.
@Suite(.timeLimit(.minutes(3)))
struct EventCrashTests {
    /// Reads the server answered.
    final class Acknowledged: Sendable {
        let count = Mutex(0)
    }

    @Test("kill -9 after acknowledged reads: every one has its vault.data.read event after restart")
    func acknowledgedReadsKeepTheirEvents() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await VaultProcess.serve(dataDirectory: directory, apiKeys: CrashRecoveryTests.apiKey)
            defer { server.stop() }
            #expect(!server.standardError.contains("events are off"))
            let vault = try CrashRecoveryTests.client(server)
            let created = try await vault.createObject(name: "audited", value: "v", context: ["k": "v"])
            let acknowledged = Acknowledged()
            let readers = (0..<4).map { _ in
                Task {
                    while true {
                        do {
                            _ = try await vault.readObject(id: created.id)
                            acknowledged.count.withLock { $0 += 1 }
                        } catch {
                            return  // the server is gone
                        }
                    }
                }
            }
            while acknowledged.count.withLock({ $0 }) < 50 { try await Task.sleep(for: .milliseconds(1)) }
            server.signal(SIGKILL)
            for reader in readers { await reader.value }
            _ = try await server.waitForExit(timeout: .seconds(10))
            let reads = acknowledged.count.withLock { $0 }

            // Opened again, as the restarted server opens it.
            let restarted = try LocalVault(
                configuration: LocalVaultConfiguration(dataDirectory: directory, purgesInBackground: false)
            )
            var recorded = 0
            var after: String?
            repeat {
                let page = try await restarted.listEvents(
                    EventListQuery(events: [.dataRead], limit: 100, after: after, order: .ascending),
                    environmentID: LocalVault.defaultEnvironmentID
                )
                recorded += page.data.count
                after = page.listMetadata.after
            } while after != nil
            #expect(recorded >= reads, "\(reads) reads acknowledged, \(recorded) events recorded")
            #expect(try await restarted.verifyEvents().allSatisfy { $0.broken == nil })
            await restarted.close()
        }
    }

    @Test("vault serve --events off warns at start and records nothing")
    func eventsOff() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await VaultProcess.serve(
                dataDirectory: directory,
                apiKeys: CrashRecoveryTests.apiKey,
                arguments: ["--events", "off"]
            )
            let vault = try CrashRecoveryTests.client(server)
            let created = try await vault.createObject(name: "unaudited", value: "v", context: ["k": "v"])
            _ = try await vault.readObject(id: created.id)
            server.stop()
            _ = try await server.waitForExit(timeout: .seconds(10))
            #expect(server.standardError.contains("events are off (--events off)"))
            let reopened = try LocalVault(
                configuration: LocalVaultConfiguration(dataDirectory: directory, purgesInBackground: false)
            )
            let events = try await reopened.listEvents(
                EventListQuery(events: Set(VaultEventType.allCases), limit: 100),
                environmentID: LocalVault.defaultEnvironmentID
            )
            #expect(events.data.isEmpty)
            await reopened.close()
        }
    }
}
