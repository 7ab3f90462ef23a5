import Foundation
import Hummingbird
import HummingbirdTesting
import LocalVault
import Synchronization
import Testing

@testable import LocalVaultServer

/// `GET /health`: no authentication, no rate limit, 200 while the store answers, 503 otherwise,
/// and nothing in the body but the status.
@Suite struct HealthTests {
    @Test("200 {\"status\":\"ok\"} without a key, with a wrong key, and past the rate limit")
    func availableWithoutAuthentication() async throws {
        try await VaultHarness.run(.live, rateLimit: RateLimit(requests: 1, window: .seconds(60))) { _, client in
            _ = try await client.send(.get, "/vault/v1/kv")
            #expect(try await client.send(.get, "/vault/v1/kv").status.code == 429)
            for key in [nil, TestKeys.primary, "sk_test_not_a_key"] {
                for _ in 0..<3 {
                    let response = try await client.send(.get, "/health", key: key)
                    #expect(response.status.code == 200)
                    #expect(response.text == #"{"status":"ok"}"#)
                    #expect(response.headers[.contentType] == "application/json")
                    #expect(response.headers[.cacheControl] == "no-store")
                }
            }
            // The rest of the API still wants a key.
            #expect(try await client.send(.get, "/vault/v1/kv", key: nil).status.code == 401)
        }
    }

    @Test("503 {\"status\":\"unavailable\"} when the store fails, without the failure's text")
    func unavailableStore() async throws {
        let status = try await Self.serveHealth(
            StoreHealth { throw StorageError.unavailable("SQLite 5 at /secret/path/vault.sqlite") }
        )
        #expect(status.code == 503)
        #expect(status.body == #"{"status":"unavailable"}"#)
    }

    @Test("a store that never answers is a 503 within the bound, and concurrent checks share one probe")
    func hungStore() async throws {
        let probes = Atomic(0)
        let health = StoreHealth(bound: .milliseconds(300)) {
            probes.add(1, ordering: .relaxed)
            try await Task.sleep(for: .seconds(3_600))
        }
        let start = ContinuousClock.now
        let answers = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 { group.addTask { await health.isAvailable() } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers == Array(repeating: false, count: 8))
        // Far below the hour the probe hangs for, far above the bound: a loaded machine may
        // wake the timer late, but a check never waits for the store.
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(probes.load(ordering: .relaxed) == 1)
    }

    @Test("a probe that ends lets the next check start a new one")
    func probesAgainAfterAnAnswer() async throws {
        let failing = Atomic(true)
        let health = StoreHealth {
            if failing.load(ordering: .relaxed) { throw StorageError.unavailable("down") }
        }
        #expect(await health.isAvailable() == false)
        failing.store(false, ordering: .relaxed)
        #expect(try await eventually { await health.isAvailable() })
    }

    /// The health route over `health`, served live, and one unauthenticated `GET /health`.
    static func serveHealth(_ health: StoreHealth) async throws -> (code: Int, body: String) {
        let router = Router(context: VaultRequestContext.self)
        OperationsRoutes(health: health, metrics: nil, logging: RequestLoggingMiddleware()).register(on: router)
        return try await Application(router: router).test(.live) { client in
            let response = try await client.send(.get, "/health", key: nil)
            return (response.status.code, response.text)
        }
    }
}

/// `/health` on a `vault serve` process: on SQLite, and on a PostgreSQL database that goes away.
@Suite(.enabled(if: VaultProcess.binary != nil || isCI, "the vault executable is not built (swift build)"))
struct HealthProcessTests {
    @Test("vault serve answers /health without a key")
    func sqlite() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await VaultProcess.serve(dataDirectory: directory, apiKeys: "sk_test_health_0001")
            defer { server.stop() }
            let port = try #require(server.port)
            let answer = try await liveRequest(port: port, .get, "/health")
            #expect(answer.status == 200)
            #expect(answer.body == #"{"status":"ok"}"#)
            #expect(server.standardError.contains("GET /health 200"))
        }
    }

    @Test(
        "on PostgreSQL: 200, then 503 once the database is gone, counted as storage errors",
        .enabled(if: PostgresCluster.enabled, "needs PostgreSQL 15 (scripts/test starts it; with CI=true it must)"),
        .timeLimit(.minutes(3))
    )
    func postgresGone() async throws {
        let cluster = try await PostgresCluster.start()
        do {
            try await withTemporaryDirectory { directory in
                let server = try await VaultProcess.serve(
                    dataDirectory: directory,
                    apiKeys: "sk_test_health_0001",
                    arguments: ["--database", cluster.url, "--metrics"]
                )
                defer { server.stop() }
                let port = try #require(server.port)
                #expect(try await liveRequest(port: port, .get, "/health").status == 200)
                await cluster.stop()
                let start = ContinuousClock.now
                let answer = try await liveRequest(port: port, .get, "/health")
                #expect(answer.status == 503)
                #expect(answer.body == #"{"status":"unavailable"}"#)
                #expect(ContinuousClock.now - start < .seconds(10))
                // The probe's failure is counted when the store gives up (its own bound), maybe after the 503.
                #expect(
                    try await eventually {
                        try await liveRequest(port: port, .get, "/metrics").body
                            .contains(#"vault_storage_errors_total{kind="unavailable"}"#)
                    }
                )
            }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
