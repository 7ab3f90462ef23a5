import Foundation
import Synchronization
import Testing
import VaultAPI
import WorkOSVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kill -9` at an arbitrary moment loses no acknowledged write, and the store opens cleanly.
@Suite(.timeLimit(.minutes(3)))
struct CrashRecoveryTests {
    static let apiKey = "sk_test_crash_0001"

    /// The writes the server acknowledged, by name (the latest value and version), and the update
    /// in flight for a name when the server died: that one may or may not have landed.
    final class Acknowledged: Sendable {
        let writes = Mutex<[String: (value: String, version: String?)]>([:])
        let inFlight = Mutex<[String: String]>([:])
    }

    static func client(_ server: VaultProcess) throws -> Vault {
        let configuration = try RemoteConfiguration(
            apiKey: apiKey,
            baseURL: server.baseURL,
            requestTimeout: .seconds(5),
            retry: .none
        )
        let rest = VaultRESTClient(configuration: configuration)
        return Vault(resolver: RemoteKEKResolver(client: rest), objects: rest)
    }

    @Test(arguments: [0, 150, 400])
    func killingTheServerMidWriteLosesNoAcknowledgedWrite(killAfterMilliseconds: Int) async throws {
        try await withTemporaryDirectory { directory in
            let server = try await VaultProcess.serve(dataDirectory: directory, apiKeys: Self.apiKey)
            defer { server.stop() }
            let vault = try Self.client(server)
            let acknowledged = Acknowledged()
            let writers = (0..<4).map { writer in
                Task {
                    for index in 0..<100_000 {
                        let name = "w\(writer)-\(index)"
                        let value = "value \(writer) \(index) \(UUID().uuidString)"
                        do {
                            let created = try await vault.createObject(
                                name: name,
                                value: value,
                                context: ["org": "o\(writer)"]
                            )
                            acknowledged.writes.withLock { $0[name] = (value, created.versionID) }
                            if index % 3 == 0 {
                                acknowledged.inFlight.withLock { $0[name] = value + " v2" }
                                let updated = try await vault.updateObject(id: created.id, value: value + " v2")
                                acknowledged.writes.withLock { $0[name] = (value + " v2", updated.metadata.versionID) }
                            }
                        } catch {
                            return  // the server is gone
                        }
                    }
                }
            }
            // Let the writers get going, then kill at a moment that varies from case to case.
            while acknowledged.writes.withLock({ $0.count }) < 10 { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(killAfterMilliseconds))
            server.signal(SIGKILL)
            for writer in writers { await writer.value }
            _ = try await server.waitForExit(timeout: .seconds(10))

            let writes = acknowledged.writes.withLock { $0 }
            let restarted = try await VaultProcess.serve(dataDirectory: directory, apiKeys: Self.apiKey)
            defer { restarted.stop() }
            let reader = try Self.client(restarted)
            let inFlight = acknowledged.inFlight.withLock { $0 }
            for (name, write) in writes {
                let object = try await reader.readObject(named: name)
                if object.value == write.value {
                    #expect(object.metadata.versionID == write.version)
                } else {
                    #expect(object.value == inFlight[name], "\(name) lost its acknowledged value")
                }
            }
            // The store takes new writes after the crash.
            _ = try await reader.createObject(name: "after-crash", value: "ok", context: ["org": "o"])
        }
    }
}
