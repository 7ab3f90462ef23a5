import Foundation
import Testing
import VaultHTTP

@testable import WorkOSVault

/// Per-call request options (the official SDKs' `request_options`): they reach the wire for the
/// calls inside `withRequestOptions` and only there.
@Suite(.timeLimit(.minutes(1)))
struct RequestOptionsTests {
    @Test func headersAndTheIdempotencyKeyGoOnEveryAttempt() async throws {
        let server = try ScriptedHTTPServer(script: [
            .respond(status: 503), .respond(status: 200, body: RetryTests.dataKeyBody),
            .respond(status: 200, body: RetryTests.dataKeyBody),
        ])
        defer { server.stop() }
        let vault = try RetryTests.vault(server)
        let options = RequestOptions(idempotencyKey: "order-42", headers: ["X-Trace-Id": "trace-7"])
        _ = try await vault.withRequestOptions(options) { try await vault.encrypt("x", context: ["org": "a"]) }
        let requests = server.requests
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0.headers["idempotency-key"] == "order-42" })
        #expect(requests.allSatisfy { $0.headers["x-trace-id"] == "trace-7" })

        // Outside the block: the client's own random key, no extra header.
        _ = try await vault.encrypt("x", context: ["org": "a"])
        let after = try #require(server.requests.last)
        #expect(after.headers["idempotency-key"] != "order-42")
        #expect(after.headers["x-trace-id"] == nil)
    }

    @Test func aRetryPolicyOfNoneMakesOneAttempt() async throws {
        let server = try ScriptedHTTPServer(script: [], fallback: .respond(status: 500))
        defer { server.stop() }
        let vault = try RetryTests.vault(server)
        let error = await #expect(throws: VaultError.self) {
            try await vault.withRequestOptions(RequestOptions(retry: RetryPolicy.none)) {
                try await vault.encrypt("x", context: ["org": "a"])
            }
        }
        #expect(error?.code == .serverError)
        #expect(server.requests.count == 1, "the configuration's 3 retries were replaced by none")
    }

    @Test func theTimeoutReplacesTheConfigurationsOne() async throws {
        let server = try ScriptedHTTPServer(
            script: [],
            fallback: .delayed(seconds: 3, status: 200, body: RetryTests.dataKeyBody)
        )
        defer { server.stop() }
        let vault = try RetryTests.vault(server, retry: .none, timeout: .seconds(30))
        let started = ContinuousClock.now
        let error = await #expect(throws: VaultError.self) {
            try await vault.withRequestOptions(RequestOptions(timeout: .milliseconds(300))) {
                try await vault.encrypt("x", context: ["org": "a"])
            }
        }
        #expect(error?.code == .timeout)
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test(arguments: [
        RequestOptions(headers: ["Authorization": "Bearer sk_other"]),
        RequestOptions(headers: ["idempotency-key": "k"]),
        RequestOptions(headers: ["X-Split": "a\r\nX-Injected: 1"]),
        RequestOptions(headers: ["Bad Name": "v"]),
        RequestOptions(idempotencyKey: ""),
        RequestOptions(idempotencyKey: "has space"),
        RequestOptions(timeout: .zero),
    ])
    func unusableOptionsAreRefusedBeforeAnyRequest(options: RequestOptions) async throws {
        let server = try ScriptedHTTPServer(script: [], fallback: .respond(status: 200, body: RetryTests.dataKeyBody))
        defer { server.stop() }
        let vault = try RetryTests.vault(server)
        let error = await #expect(throws: VaultError.self) {
            try await vault.withRequestOptions(options) { try await vault.encrypt("x", context: ["org": "a"]) }
        }
        #expect(error?.code == .configuration)
        #expect(server.requests.isEmpty)
        #expect(error?.message.contains("sk_other") == false)
    }
}
