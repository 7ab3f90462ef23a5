import EnvelopeCrypto
import Foundation
import Hummingbird
import InMemoryLogging
import Logging
import Synchronization
import Testing
import VaultAPI
import WorkOSVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Two `vault serve` instances on one PostgreSQL database: what must hold across instances
/// (one KEK per pair, `version_check`, acknowledged writes) and the faults (kill -9 of one
/// instance, a database restart, a database that is not there at start). Each test has a cluster
/// of its own; they run one at a time (each starts a cluster and two servers under load).
@Suite(
    .serialized,
    .enabled(if: PostgresCluster.enabled, "needs PostgreSQL 15 (scripts/test starts it; with CI=true it must)"),
    .timeLimit(.minutes(5))
)
struct SharedDatabaseTests {
    static let apiKey = "sk_test_shared_0001"

    /// Two instances on a fresh cluster with one root key, passed to `body`, then stopped.
    static func withTwoInstances(
        arguments: [String] = [],
        _ body: (PostgresCluster, VaultProcess, VaultProcess) async throws -> Void
    ) async throws {
        let cluster = try await PostgresCluster.start()
        do {
            try await withTemporaryDirectory { directory in
                let rootKey = try DataKey.generate().base64EncodedString()
                var instances: [VaultProcess] = []
                defer { for instance in instances { instance.stop() } }
                for name in ["a", "b"] {
                    let folder = (directory as NSString).appendingPathComponent(name)
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    instances.append(
                        try await VaultProcess.serve(
                            dataDirectory: folder,
                            apiKeys: apiKey,
                            arguments: ["--database", cluster.url] + arguments,
                            environment: ["VAULT_ROOT_KEY": rootKey]
                        )
                    )
                }
                try await body(cluster, instances[0], instances[1])
            }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    static func client(_ server: VaultProcess, retry: RetryPolicy = .none, logger: Logger? = nil) throws -> Vault {
        let configuration = try RemoteConfiguration(
            apiKey: apiKey,
            baseURL: server.baseURL,
            // Longer than the server's bound on a database operation (30 s), so that a request the
            // database never answers comes back as the server's 503, not as a client timeout.
            requestTimeout: .seconds(45),
            retry: retry
        )
        let rest = VaultRESTClient(configuration: configuration)
        return Vault(resolver: RemoteKEKResolver(client: rest), objects: rest, logger: logger)
    }

    @Test func objectsAndKeysWrittenOnOneInstanceAreReadOnTheOther() async throws {
        try await Self.withTwoInstances { _, a, b in
            let (vaultA, vaultB) = (try Self.client(a), try Self.client(b))
            let created = try await vaultA.createObject(name: "shared", value: "from a", context: ["org": "o1"])
            #expect(try await vaultB.readObject(id: created.id).value == "from a")
            let blob = try await vaultB.encrypt("sealed on b", context: ["org": "o1"])
            #expect(try await vaultA.decrypt(blob) == "sealed on b")
            _ = try await vaultB.deleteObject(id: created.id)
            await #expect(throws: VaultError(.notFound, "")) { _ = try await vaultA.readObject(id: created.id) }
            // The name stays held on both instances until the purge.
            await #expect(throws: VaultError(.conflict, "")) {
                _ = try await vaultA.createObject(name: "shared", value: "again", context: ["org": "o1"])
            }
        }
    }

    @Test func instancesCreatingTheFirstKEKOfAPairAtOnceEndWithOne() async throws {
        try await Self.withTwoInstances { cluster, a, b in
            let vaults = [try Self.client(a), try Self.client(b)]
            let context: KeyContext = ["organization_id": "org_race"]
            let blobs = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<24 {
                    group.addTask { try await vaults[index % 2].encrypt("value \(index)", context: context) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // Every blob opens on both instances: all were wrapped under the one KEK.
            for (index, blob) in blobs.enumerated() {
                #expect(try await vaults[(index + 1) % 2].decrypt(blob).hasPrefix("value "))
            }
            let count = try await cluster.query("SELECT COUNT(*) FROM keks WHERE context_value = 'org_race'")
            #expect(count == "1")
        }
    }

    @Test func ofTwentyFourConcurrentUpdatesWithOneVersionCheckExactlyOneWins() async throws {
        try await Self.withTwoInstances { _, a, b in
            let vaults = [try Self.client(a), try Self.client(b)]
            let created = try await vaults[0].createObject(name: "contended", value: "v1", context: ["org": "o"])
            let check = try #require(created.versionID)
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<24 {
                    group.addTask {
                        do {
                            _ = try await vaults[index % 2].updateObject(
                                id: created.id,
                                value: "writer \(index)",
                                versionCheck: check
                            )
                            return "won \(index)"
                        } catch let error as VaultError where error.httpStatus == 409 {
                            return "conflict"
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let winners = outcomes.filter { $0.hasPrefix("won") }
            #expect(winners.count == 1, "\(outcomes)")
            #expect(outcomes.count(where: { $0 == "conflict" }) == 23)
            let winner = try #require(winners.first).dropFirst("won ".count)
            for vault in vaults {
                let read = try await vault.readObject(id: created.id)
                #expect(read.value == "writer \(winner)")
                #expect(read.metadata.version == 2)
            }
        }
    }

    @Test func aCreateRetriedOnTheOtherInstanceWithItsIdempotencyKeyReplaysTheFirstAnswer() async throws {
        try await Self.withTwoInstances { cluster, a, b in
            let (portA, portB) = (try #require(a.port), try #require(b.port))
            let idempotencyKey: HTTPFields = [HeaderName("Idempotency-Key")!: UUID().uuidString]
            let body = #"{"name": "paid-once", "value": "v1", "key_context": {"organization_id": "org_1"}}"#
            let first = try await liveRequest(
                port: portA,
                .post,
                "/vault/v1/kv",
                key: Self.apiKey,
                json: body,
                headers: idempotencyKey
            )
            #expect(first.status == 201, "\(first.body)")
            #expect(first.headers[HeaderName("Idempotent-Replayed")!] == nil)

            // The same call retried on B: A's stored answer, byte for byte, and no second object.
            let retried = try await liveRequest(
                port: portB,
                .post,
                "/vault/v1/kv",
                key: Self.apiKey,
                json: body,
                headers: idempotencyKey
            )
            #expect(retried.status == 201, "\(retried.body)")
            #expect(retried.body == first.body)
            #expect(retried.headers[HeaderName("Idempotent-Replayed")!] == "true")
            let (created, replayed) = (try Self.fields(first.body), try Self.fields(retried.body))
            #expect(created["id"] != nil && replayed["id"] == created["id"])
            #expect(created["version_id"] != nil && replayed["version_id"] == created["version_id"])
            let versions = try await cluster.query(
                "SELECT COUNT(*) FROM objects o JOIN object_versions v ON v.object_id = o.id WHERE o.name = 'paid-once'"
            )
            #expect(versions == "1")

            // The same key with another body on B is refused, and creates nothing.
            let other = #"{"name": "paid-twice", "value": "v1", "key_context": {"organization_id": "org_1"}}"#
            let reused = try await liveRequest(
                port: portB,
                .post,
                "/vault/v1/kv",
                key: Self.apiKey,
                json: other,
                headers: idempotencyKey
            )
            #expect(reused.status == 422, "\(reused.body)")
            #expect(try Self.fields(reused.body)["code"] == "idempotency_key_reused", "\(reused.body)")
            #expect(try await cluster.query("SELECT COUNT(*) FROM objects WHERE name = 'paid-twice'") == "0")
        }
    }

    /// The string fields of a JSON object.
    static func fields(_ json: String) throws -> [String: String] {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return object?.compactMapValues { $0 as? String } ?? [:]
    }

    /// Writes acknowledged by each instance, by name.
    final class Acknowledged: Sendable {
        let writes = Mutex<[String: String]>([:])
        let failures = Mutex<[String]>([])
        /// The HTTP status of each failed request (nil: no HTTP answer).
        let statuses = Mutex<[Int?]>([])
        let survivorWrites = Mutex(0)
        let stop = Atomic(false)
    }

    @Test func killingOneInstanceUnderWriteLoadLosesNothingAndTheOtherKeepsServing() async throws {
        try await Self.withTwoInstances { _, a, b in
            let (vaultA, vaultB) = (try Self.client(a), try Self.client(b))
            let acknowledged = Acknowledged()
            let writersOnA = (0..<3).map { writer in
                Task {
                    for index in 0..<100_000 {
                        let name = "a\(writer)-\(index)"
                        do {
                            _ = try await vaultA.createObject(name: name, value: "value \(name)", context: ["org": "o"])
                            acknowledged.writes.withLock { $0[name] = "value \(name)" }
                        } catch {
                            return  // the instance is gone
                        }
                    }
                }
            }
            let writersOnB = (0..<2).map { writer in
                Task {
                    var index = 0
                    while !acknowledged.stop.load(ordering: .relaxed) {
                        let name = "b\(writer)-\(index)"
                        index += 1
                        do {
                            _ = try await vaultB.createObject(name: name, value: "value \(name)", context: ["org": "o"])
                            acknowledged.writes.withLock { $0[name] = "value \(name)" }
                            acknowledged.survivorWrites.withLock { $0 += 1 }
                        } catch {
                            acknowledged.failures.withLock { $0.append("\(name): \(error)") }
                        }
                    }
                }
            }
            while acknowledged.writes.withLock({ $0.count }) < 40 { try await Task.sleep(for: .milliseconds(10)) }
            a.signal(SIGKILL)
            for writer in writersOnA { await writer.value }
            _ = try await a.waitForExit(timeout: .seconds(10))
            // The survivor goes on writing after the kill.
            let atKill = acknowledged.survivorWrites.withLock { $0 }
            while acknowledged.survivorWrites.withLock({ $0 }) < atKill + 20 {
                try await Task.sleep(for: .milliseconds(10))
            }
            acknowledged.stop.store(true, ordering: .relaxed)
            for writer in writersOnB { await writer.value }

            #expect(acknowledged.failures.withLock { $0 }.isEmpty)
            for (name, value) in acknowledged.writes.withLock({ $0 }) {
                #expect(try await vaultB.readObject(named: name).value == value, "\(name) lost")
            }
        }
    }

    @Test func aDatabaseRestartIsA503UntilItIsBackAndTheInstancesRecoverByThemselves() async throws {
        try await Self.withTwoInstances { cluster, a, b in
            let vaults = [try Self.client(a), try Self.client(b)]
            let acknowledged = Acknowledged()
            let writers = (0..<4).map { writer in
                Task {
                    var index = 0
                    while !acknowledged.stop.load(ordering: .relaxed) {
                        let name = "w\(writer)-\(index)"
                        index += 1
                        do {
                            _ = try await vaults[writer % 2].createObject(
                                name: name,
                                value: "value \(name)",
                                context: ["org": "o\(writer)"]
                            )
                            acknowledged.writes.withLock { $0[name] = "value \(name)" }
                        } catch let error as VaultError {
                            acknowledged.statuses.withLock { $0.append(error.httpStatus) }
                            try? await Task.sleep(for: .milliseconds(20))
                        } catch {
                            acknowledged.statuses.withLock { $0.append(nil) }
                        }
                    }
                }
            }
            while acknowledged.writes.withLock({ $0.count }) < 20 { try await Task.sleep(for: .milliseconds(10)) }
            try await cluster.pause()

            // The database is down until `resume`. A client with the default retry policy starts a
            // call now; the outage lasts until its first attempt came back as a 503.
            let attempts = InMemoryLogHandler()
            var logger = Logger(label: "retrying-client", factory: { _ in attempts })
            logger.logLevel = .debug
            let retrying = try Self.client(a, retry: RetryPolicy(), logger: logger)
            let retried = Task {
                try await retrying.createObject(name: "retried", value: "value retried", context: ["org": "r"])
            }
            // A request to either instance while the database is down is a 503.
            let duringOutage = await withTaskGroup(of: String.self) { group in
                for vault in vaults {
                    group.addTask {
                        do {
                            _ = try await vault.createObject(name: "down-\(UUID())", value: "v", context: ["org": "o"])
                            return "created"
                        } catch {
                            return (error as? VaultError)?.httpStatus.map(String.init) ?? "\(error)"
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(duringOutage == ["503", "503"])
            let statuses = { @Sendable in
                attempts.entries.filter { "\($0.message)" == "vault request" }.compactMap { $0.metadata["status"] }
                    .map { "\($0)" }
            }
            #expect(try await eventually(timeout: .seconds(30)) { statuses().contains("503") }, "\(attempts.entries)")
            try await cluster.resume()

            // The retried call succeeds once the database is back, and the instances take writes
            // again, without a restart of their own.
            let created = try await retried.value
            #expect(statuses().first == "503" && statuses().last == "201", "\(statuses())")
            let afterRestart = acknowledged.writes.withLock { $0.count }
            let deadline = ContinuousClock.now + .seconds(60)
            while acknowledged.writes.withLock({ $0.count }) < afterRestart + 40, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            acknowledged.stop.store(true, ordering: .relaxed)
            for writer in writers { await writer.value }

            #expect(a.process.isRunning && b.process.isRunning, "an instance died")
            let failures = acknowledged.statuses.withLock { $0 }
            // A request that met the outage is a retryable 503 (a name whose create committed
            // before the connection dropped is, on the next attempt, a 409 of a new name: none here).
            #expect(!failures.isEmpty && failures.allSatisfy { $0 == 503 }, "\(failures)")
            #expect(acknowledged.writes.withLock { $0.count } >= afterRestart + 40, "the writers did not recover")
            for vault in vaults {
                let read = try await vault.readObject(named: "retried")
                #expect(read.id == created.id && read.value == "value retried")
            }
            for (name, value) in acknowledged.writes.withLock({ $0 }) {
                #expect(try await vaults[1].readObject(named: name).value == value, "\(name) lost")
            }
        }
    }

    @Test func aDatabaseThatCannotBeReachedAtStartIsExitStatusFive() async throws {
        // A port nothing listens on: bind one, note it, close it.
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        close(descriptor)
        try await withTemporaryDirectory { directory in
            let started = ContinuousClock.now
            let result = try await VaultProcess.run(
                [
                    "serve", "--port", "0", "--data-dir", directory, "--database",
                    "postgres://postgres@127.0.0.1:\(port)/vault",
                ],
                environment: ["VAULT_API_KEYS": Self.apiKey],
                timeout: .seconds(60)
            )
            #expect(result.status == 5, "\(result.error)")
            #expect(result.error.contains("cannot reach the database"), "\(result.error)")
            #expect(ContinuousClock.now - started < .seconds(45))
        }
    }
}
