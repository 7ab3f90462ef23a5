import Foundation
import LocalVault
import Synchronization
import Testing
import VaultAPI
import WorkOSVault

/// `modifyObject`: read, change, write back with the version check, retry on a conflict.
@Suite("modifyObject recovers from version conflicts")
struct ModifyObjectTests {
    static let context: KeyContext = ["organization_id": "org_modify"]

    /// Concurrent appenders, each retrying until its append lands: none is lost.
    static func checkConcurrentAppends(_ vault: Vault, writers: Int = 16) async throws {
        let created = try await vault.createObject(name: "audit-log", value: "", context: context)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    try await vault.modifyObject(named: "audit-log", context: context, maxAttempts: 500) { current in
                        current + "[\(writer)]"
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try await vault.readObject(id: created.id, context: context)
        for writer in 0..<writers {
            #expect(final.value.components(separatedBy: "[\(writer)]").count == 2, "append \(writer) once")
        }
        #expect(final.value.count == (0..<writers).map { "[\($0)]".count }.reduce(0, +))
        #expect(final.metadata.version == writers + 1)
    }

    /// A writer that always gets there first: the last attempt's conflict is thrown.
    static func checkGivesUp(_ vault: Vault) async throws {
        let created = try await vault.createObject(name: "contended", value: "0", context: context)
        let runs = Runs()
        let error = await #expect(throws: VaultError.self) {
            try await vault.modifyObject(id: created.id, context: context, maxAttempts: 3) { current in
                let run = runs.next()
                // Another writer slips in between this read and its update.
                _ = try await vault.updateObject(id: created.id, value: "other \(run)", context: context)
                return current + "+1"
            }
        }
        #expect(error?.code == .versionConflict)
        #expect(runs.count.withLock { $0 } == 3)
        #expect(try await vault.readObject(id: created.id).value == "other 3")

        // A wrong context finds nothing and changes nothing; transform never runs.
        let missing = await #expect(throws: VaultError.self) {
            try await vault.modifyObject(named: "contended", context: ["organization_id": "org_other"]) { _ in
                Issue.record("transform ran for an object of another context")
                return "x"
            }
        }
        #expect(missing?.code == .notFound)
        let refused = await #expect(throws: VaultError.self) {
            try await vault.modifyObject(id: created.id, maxAttempts: 0) { $0 }
        }
        #expect(refused?.code == .badRequest)

        // Without competition, one attempt.
        let updated = try await vault.modifyObject(named: "contended", context: context) { $0 + "!" }
        #expect(try await vault.readObject(id: created.id).value == "other 3!")
        #expect(updated.metadata.version == 5)
    }

    final class Runs: Sendable {
        let count = Mutex(0)

        func next() -> Int {
            count.withLock { count in
                count += 1
                return count
            }
        }
    }

    static func embedded() throws -> (Vault, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vault-mod-\(UUID().uuidString)")
            .path
        let engine = try LocalVault(configuration: LocalVaultConfiguration(dataDirectory: directory))
        return (
            Vault(resolver: EmbeddedKEKResolver(vault: engine), objects: EmbeddedObjectService(vault: engine)),
            directory
        )
    }

    @Test(.timeLimit(.minutes(5)))
    func concurrentAppendsAgainstVaultServe() async throws {
        try await LiveServer.run { live in try await Self.checkConcurrentAppends(live.vault) }
    }

    @Test(.timeLimit(.minutes(5)))
    func concurrentAppendsAgainstTheEmbeddedStore() async throws {
        let (vault, directory) = try Self.embedded()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Self.checkConcurrentAppends(vault)
    }

    @Test func givesUpAgainstVaultServe() async throws {
        try await LiveServer.run { live in try await Self.checkGivesUp(live.vault) }
    }

    @Test func givesUpAgainstTheEmbeddedStore() async throws {
        let (vault, directory) = try Self.embedded()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Self.checkGivesUp(vault)
    }
}
