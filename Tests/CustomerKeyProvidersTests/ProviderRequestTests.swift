import LocalVault
import Testing
import VaultHTTP

@testable import CustomerKeyProviders

/// How provider answers become the vault's errors: refusals 403, overload and outages 503.
struct ProviderRequestTests {
    @Test(
        arguments: [
            (200, nil, ProviderRequest.Outcome.success),
            (401, nil, .refused),
            (403, nil, .refused),
            (404, nil, .refused),
            (400, "DisabledException", .refused),
            (400, "ValidationException", .rejected),
            (429, nil, .unavailable),
            (500, nil, .unavailable),
            (503, "ThrottlingException", .unavailable),
        ] as [(Int, String?, ProviderRequest.Outcome)]
    )
    func statusesAndCodesAreClassified(status: Int, code: String?, expected: ProviderRequest.Outcome) {
        #expect(
            ProviderRequest.classify(status: status, errorCode: code, refusalCodes: ["DisabledException"]) == expected
        )
    }

    @Test func errorCodesKeepOnlyCodeCharacters() {
        #expect(
            ProviderRequest.sanitized("com.amazonaws.kms#DisabledException") == "com.amazonaws.kms#DisabledException"
        )
        #expect(ProviderRequest.sanitized("bad code\n<script>") == "badcodescript")
        #expect(ProviderRequest.sanitized(String(repeating: "A", count: 200)).count == 64)
    }

    @Test func anUnreachableProviderIsUnavailableAndNamesTheKeyAndProvider() async throws {
        // Port 1 on loopback: nothing listens there, so every attempt is refused at once.
        let request = ProviderRequest(
            providerName: "Test KMS",
            keyID: "cmk_test",
            retry: RetryPolicy(maxRetries: 1, baseDelay: .milliseconds(1))
        )
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await request.send(TransportRequest(method: .post, url: "http://127.0.0.1:1/", body: [1]))
        }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains("cmk_test (Test KMS)") == true)
    }
}

/// ProviderRequest against a scripted server: what is retried, how often, and what it ends as.
@Suite(.timeLimit(.minutes(1)))
struct ProviderRequestRetryTests {
    static func request(timeout: Duration = .seconds(5)) -> ProviderRequest {
        ProviderRequest(
            providerName: "Test KMS",
            keyID: "cmk_test",
            timeout: timeout,
            retry: RetryPolicy(maxRetries: 2, baseDelay: .milliseconds(10), maxBackoff: .milliseconds(40))
        )
    }

    static func send(_ request: ProviderRequest, to server: ScriptedProviderServer) async throws -> TransportResponse {
        try await request.send(
            TransportRequest(method: .post, url: server.url, body: Array("{}".utf8)),
            errorCode: { response in
                String(decoding: response.body, as: UTF8.self).contains("DisabledException") ? "DisabledException" : nil
            },
            refusalCodes: ["DisabledException"]
        )
    }

    @Test func throttlingAndServerErrorsAreRetriedUntilAnAnswer() async throws {
        let server = try ScriptedProviderServer([.init(status: 429), .init(status: 503), .init(status: 200)])
        defer { server.stop() }
        let response = try await Self.send(Self.request(), to: server)
        #expect(response.status == 200)
        #expect(server.requests == 3)
    }

    @Test func aProviderStillFailingAfterTheRetriesIsUnavailable() async throws {
        let server = try ScriptedProviderServer([.init(status: 500)])
        defer { server.stop() }
        let error = await #expect(throws: LocalVaultError.self) { _ = try await Self.send(Self.request(), to: server) }
        #expect(error?.kind == .unavailable)
        #expect(error?.httpStatus == 503)
        #expect(error?.message.contains("cmk_test (Test KMS)") == true)
        #expect(server.requests == 3)
    }

    @Test func aRefusalIsA403AtOnce() async throws {
        for reply in [
            ScriptedProviderServer.Reply(status: 403),
            .init(status: 400, body: #"{"__type": "DisabledException", "message": "arn:... is disabled"}"#),
        ] {
            let server = try ScriptedProviderServer([reply])
            defer { server.stop() }
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await Self.send(Self.request(), to: server)
            }
            #expect(error?.kind == .insufficientPermissions)
            #expect(
                error?.message.hasPrefix("insufficient permissions to use the customer-managed key cmk_test (Test KMS)")
                    == true
            )
            #expect(error?.message.contains("arn:") == false)
            #expect(server.requests == 1)
        }
    }

    @Test func aSlowProviderTimesOutEachAttemptAndIsUnavailable() async throws {
        let server = try ScriptedProviderServer([.init(status: 200, delay: .seconds(2))])
        defer { server.stop() }
        let started = ContinuousClock.now
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await Self.send(Self.request(timeout: .milliseconds(200)), to: server)
        }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains("no answer within") == true)
        #expect(server.requests == 3)
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}
