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
            _ = try await request.send(HTTPRequest(method: "POST", url: "http://127.0.0.1:1/", body: [1]))
        }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains("cmk_test (Test KMS)") == true)
    }
}
