import EnvelopeCrypto
import Foundation
import Testing
import VaultAPI
import VaultHTTP

@testable import WorkOSVault

/// The client against a misbehaving server: it retries exactly as the policy says, with the same
/// idempotency key, then fails with the right typed error. Nothing hangs, nothing crashes.
@Suite(.timeLimit(.minutes(1)))
struct RetryTests {
    static let fastRetries = RetryPolicy(maxRetries: 3, baseDelay: .milliseconds(20), maxBackoff: .milliseconds(80))

    static func vault(
        _ server: ScriptedHTTPServer,
        retry: RetryPolicy = fastRetries,
        timeout: Duration = .seconds(5)
    ) throws
        -> Vault
    {
        let configuration = try RemoteConfiguration(
            apiKey: "sk_test_retry",
            baseURL: server.baseURL,
            requestTimeout: timeout,
            retry: retry
        )
        let client = VaultRESTClient(configuration: configuration)
        return Vault(resolver: RemoteKEKResolver(client: client), objects: client)
    }

    static let dataKeyBody: String = {
        let key = Base64.encode([UInt8](repeating: 7, count: 32))
        let keys = Base64.encode(Array("LVS.EKM.v1\0".utf8) + [1, 2, 3])
        return #"{"id":"dk_1","data_key":"\#(key)","encrypted_keys":"\#(keys)","context":{"org":"a"}}"#
    }()

    @Test func retriesFiveHundredsThenSucceedsWithOneIdempotencyKey() async throws {
        let server = try ScriptedHTTPServer(script: [
            .respond(status: 500), .respond(status: 502), .respond(status: 503),
            .respond(status: 200, body: Self.dataKeyBody),
        ])
        defer { server.stop() }
        let blob = try await Self.vault(server).encrypt("hello", context: ["org": "a"])
        #expect(!blob.isEmpty)
        let requests = server.requests
        #expect(requests.count == 4)
        let keys = Set(requests.compactMap { $0.headers["idempotency-key"] })
        #expect(keys.count == 1, "every retry must carry the same Idempotency-Key")
        #expect(requests.allSatisfy { $0.headers["authorization"] == "Bearer sk_test_retry" })
        #expect(requests.allSatisfy { $0.path == "/vault/v1/keys/data-key" })
    }

    @Test func givesUpAfterThreeRetriesWithAServerError() async throws {
        let server = try ScriptedHTTPServer(script: [], fallback: .respond(status: 500, body: #"{"error":"boom"}"#))
        defer { server.stop() }
        let error = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(server).encrypt("x", context: ["org": "a"])
        }
        #expect(error?.code == .serverError)
        #expect(error?.httpStatus == 500)
        #expect(error?.requestID == "req_500_test")
        #expect(error?.message.contains("boom") == true)
        #expect(server.requests.count == 4)
    }

    @Test func honoursRetryAfterInSecondsAndReportsItWhenRetriesRunOut() async throws {
        let limited = ScriptedHTTPServer.Behaviour.respond(
            status: 429,
            headers: ["Retry-After": "1"],
            body: #"{"message":"Too many requests.","code":"rate_limit_exceeded"}"#
        )
        let server = try ScriptedHTTPServer(script: [limited, limited])
        defer { server.stop() }
        let error = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(server, retry: RetryPolicy(maxRetries: 1, baseDelay: .milliseconds(1))).encrypt(
                "x",
                context: ["org": "a"]
            )
        }
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfter == .seconds(1))
        let requests = server.requests
        #expect(requests.count == 2)
        let waited = requests[1].receivedAt - requests[0].receivedAt
        // At least the second asked for; the upper bound only catches a runaway wait on a loaded machine.
        #expect(waited >= .milliseconds(950) && waited < .seconds(20), "waited \(waited)")
    }

    @Test func retryAfterAsAnHTTPDateIsHonouredAndCapped() throws {
        let policy = RetryPolicy(maxRetryAfter: .seconds(60))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let inFive = formatter.string(from: now.addingTimeInterval(5))
        #expect(policy.delay(beforeRetry: 0, retryAfterHeader: inFive, now: now) == .seconds(5))
        #expect(policy.delay(beforeRetry: 0, retryAfterHeader: "3600", now: now) == .seconds(60))
        for attempt in 0..<6 {
            let delay = policy.delay(beforeRetry: attempt, retryAfterHeader: nil, now: now)
            let ceiling = min(Duration.seconds(30), .milliseconds(500) * (1 << attempt))
            #expect(delay >= .zero && delay <= ceiling)
        }
    }

    @Test func aSlowServerTimesOutAndEachAttemptIsBounded() async throws {
        let server = try ScriptedHTTPServer(
            script: [],
            fallback: .delayed(seconds: 2, status: 200, body: Self.dataKeyBody)
        )
        defer { server.stop() }
        let started = ContinuousClock.now
        let error = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(
                server,
                retry: RetryPolicy(maxRetries: 1, baseDelay: .milliseconds(1)),
                timeout: .milliseconds(300)
            )
            .encrypt("x", context: ["org": "a"])
        }
        #expect(error?.code == .timeout)
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(server.requests.count == 2)
    }

    @Test func connectionResetsAreRetriedThenReportedAsTransportErrors() async throws {
        let server = try ScriptedHTTPServer(script: [], fallback: .reset)
        defer { server.stop() }
        let error = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(server).encrypt("x", context: ["org": "a"])
        }
        #expect(error?.code == .transport)
        #expect(server.requests.count == 4)
    }

    @Test func truncatedAndNonJSONBodiesAreInvalidResponses() async throws {
        let truncated = try ScriptedHTTPServer(
            script: [],
            fallback: .truncated(status: 200, declaredLength: 500, body: #"{"id":"#)
        )
        defer { truncated.stop() }
        let first = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(truncated).encrypt("x", context: ["org": "a"])
        }
        #expect(first?.code == .transport)

        let html = try ScriptedHTTPServer(script: [.respond(status: 200, body: "<html>oops</html>")])
        defer { html.stop() }
        let second = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(html).encrypt("x", context: ["org": "a"])
        }
        #expect(second?.code == .invalidResponse)
        #expect(html.requests.count == 1, "a 200 with a bad body is not retried")

        let badKey = try ScriptedHTTPServer(script: [
            .respond(status: 200, body: #"{"id":"d","data_key":"c2hvcnQ=","encrypted_keys":"AQID","context":{}}"#)
        ])
        defer { badKey.stop() }
        let third = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(badKey).encrypt("x", context: ["org": "a"])
        }
        #expect(third?.code == .invalidResponse)
    }

    @Test func anIdempotencyKeyStillInUseIsRetriedButANameConflictIsNot() async throws {
        let inUse = ScriptedHTTPServer.Behaviour.respond(
            status: 409,
            body: #"{"error":"still running","code":"idempotency_key_in_use"}"#
        )
        let server = try ScriptedHTTPServer(script: [inUse, .respond(status: 200, body: Self.dataKeyBody)])
        defer { server.stop() }
        _ = try await Self.vault(server).encrypt("x", context: ["org": "a"])
        #expect(server.requests.count == 2)
        #expect(Set(server.requests.compactMap { $0.headers["idempotency-key"] }).count == 1)

        let conflict = try ScriptedHTTPServer(script: [
            .respond(status: 409, body: #"{"error":"name taken","code":"conflict"}"#)
        ])
        defer { conflict.stop() }
        let error = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(conflict).createObject(name: "n", value: "v", context: ["org": "a"])
        }
        #expect(error?.code == .conflict)
        #expect(conflict.requests.count == 1)
    }

    @Test func zeroRetriesMeansOneAttempt() async throws {
        let server = try ScriptedHTTPServer(script: [], fallback: .respond(status: 503))
        defer { server.stop() }
        let error = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(server, retry: .none).encrypt("x", context: ["org": "a"])
        }
        #expect(error?.code == .serverError)
        #expect(server.requests.count == 1)
    }

    @Test(arguments: [
        (400, VaultError.Code.badRequest), (401, .authentication), (403, .authorization), (404, .notFound),
        (422, .badRequest),
    ])
    func clientErrorsAreNotRetriedAndMapToTheirCode(status: Int, code: VaultError.Code) async throws {
        let server = try ScriptedHTTPServer(script: [.respond(status: status, body: #"{"error":"nope"}"#)])
        defer { server.stop() }
        let error = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(server).decryptDataKey(encryptedKeys: "AQID")
        }
        #expect(error?.code == code)
        #expect(error?.httpStatus == status)
        #expect(server.requests.count == 1)
    }

    @Test func cancellationStopsAHangingRequest() async throws {
        let server = try ScriptedHTTPServer(script: [], fallback: .silent)
        defer { server.stop() }
        // The request would time out after 60 s; cancelling must end it long before.
        let vault = try Self.vault(server, timeout: .seconds(60))
        let task = Task { try await vault.encrypt("x", context: ["org": "a"]) }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let started = ContinuousClock.now
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func keyContextsAreValidatedBeforeAnyRequest() async throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        let error = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(server).encrypt("x", context: ["org": ""])
        }
        #expect(error?.code == .invalidKeyContext)
        #expect(error?.message.contains("1 to 500 characters") == true)
        #expect(server.requests.isEmpty)
    }

    @Test func apiKeysMustStartWithSk() throws {
        let error = #expect(throws: VaultError.self) { try RemoteConfiguration(apiKey: "pk_live_123") }
        #expect(error?.code == .invalidAPIKey)
        #expect(error?.message.contains("pk_live_123") == false)
        let fromEnvironment = #expect(throws: VaultError.self) {
            try VaultConfiguration.fromEnvironment(["WORKOS_API_KEY": "oops"])
        }
        #expect(fromEnvironment?.code == .invalidAPIKey)
    }

    @Test func theEnvironmentSelectsTheBackend() throws {
        guard case .embedded(let folder) = try VaultConfiguration.fromEnvironment(["VAULT_HOME": "/tmp/vh"]).backend
        else {
            Issue.record("no WorkOS variables should select the embedded store")
            return
        }
        #expect(folder == "/tmp/vh")
        let remote = try VaultConfiguration.fromEnvironment([
            "WORKOS_API_KEY": "sk_test_1", "WORKOS_BASE_URL": "http://127.0.0.1:9/", "WORKOS_REQUEST_TIMEOUT": "2.5",
        ])
        guard case .remote(let configuration) = remote.backend else {
            Issue.record("WORKOS_API_KEY should select the REST API")
            return
        }
        #expect(configuration.baseURL == "http://127.0.0.1:9")
        #expect(configuration.requestTimeout == .milliseconds(2500))
        #expect(!"\(configuration)".contains("sk_test_1"))
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(!dumped.contains("sk_test_1"))
    }
}
