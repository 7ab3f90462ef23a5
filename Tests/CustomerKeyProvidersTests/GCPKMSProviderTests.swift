import EnvelopeCrypto
import Foundation
import LocalVault
import Testing
import VaultHTTP

@testable import CustomerKeyProviders

/// The Google Cloud KMS provider against ``GoogleKMSDouble``, a contract double of Google's
/// token endpoint and Cloud KMS REST API (not the cloud).
@Suite("Google Cloud KMS provider (contract double)")
struct GCPKMSProviderTests {
    static func provider(
        _ double: GoogleKMSDouble,
        in folder: borrowing TemporaryFolder,
        credentials: String? = nil,
        timeout: Duration = .seconds(5)
    ) throws -> GCPKMSProvider {
        let file = try folder.write("service-account.json", try credentials ?? double.credentialsJSON())
        return try GCPKMSProvider(
            keyID: "cmk_org_abc",
            resource: GoogleKMSDouble.resource,
            credentialsFile: file,
            endpoint: double.baseURL,
            timeout: timeout,
            retry: TestRetry.fast
        )
    }

    @Test("wrap and unwrap round-trip with the associated data; one token serves many calls")
    func roundTrip() async throws {
        try await GoogleKMSDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            #expect(wrapped.count > DataKey.byteCount)
            #expect(!wrapped.containsSubsequence(key.bytes))
            #expect(try await provider.unwrap(wrapped, associatedData: TestContext.associatedData) == key)
            let second = try DataKey.generate()
            let secondWrapped = try await provider.wrap(second, associatedData: TestContext.associatedData)
            #expect(try await provider.unwrap(secondWrapped, associatedData: TestContext.associatedData) == second)
            #expect(double.tokenGrants == 1)
            #expect(double.kmsCalls == 4)
            let claims = double.state.withLock { $0.lastClaims }
            #expect(claims["iss"] == GoogleKMSDouble.clientEmail)
            #expect(claims["scope"] == "https://www.googleapis.com/auth/cloudkms")
            #expect(claims["aud"] == double.tokenURI)
        }
    }

    @Test("concurrent first calls share one token request")
    func concurrentCallsShareOneToken() async throws {
        try await GoogleKMSDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        let key = try DataKey.generate()
                        let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
                        #expect(try await provider.unwrap(wrapped, associatedData: TestContext.associatedData) == key)
                    }
                }
                try await group.waitForAll()
            }
            #expect(double.tokenGrants == 1)
        }
    }

    @Test("other associated data, altered or empty ciphertexts are foreign keys (400)")
    func foreignCiphertexts() async throws {
        try await GoogleKMSDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            var altered = wrapped
            altered[altered.count - 3] ^= 0x40
            for (candidate, associatedData) in [
                (wrapped, TestContext.otherAssociatedData), (altered, TestContext.associatedData),
                ([], TestContext.associatedData),
            ] {
                let error = await #expect(throws: LocalVaultError.self) {
                    _ = try await provider.unwrap(candidate, associatedData: associatedData)
                }
                #expect(error == LocalVaultError.foreignKeys)
                #expect(error?.httpStatus == 400)
            }
        }
    }

    @Test("a token that expires is replaced before use")
    func expiredTokenIsRefreshed() async throws {
        try await GoogleKMSDouble().run { double in
            double.state.withLock { $0.expiresIn = 2 }
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            #expect(double.tokenGrants == 1)
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await provider.unwrap(wrapped, associatedData: TestContext.associatedData) == key)
            #expect(double.tokenGrants == 2)
        }
    }

    @Test("a revoked token (401) is refreshed once and the call succeeds")
    func revokedTokenIsRefreshedOnce() async throws {
        try await GoogleKMSDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            double.revokeAllTokens()
            #expect(try await provider.unwrap(wrapped, associatedData: TestContext.associatedData) == key)
            #expect(double.tokenGrants == 2)
            #expect(double.kmsCalls == 3)
        }
    }

    @Test("401 again after a fresh token is 403 insufficient permissions naming Google Cloud KMS")
    func persistentUnauthorizedIsForbidden() async throws {
        try await GoogleKMSDouble().run { double in
            double.state.withLock { $0.refuseAllTokens = true }
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await provider.wrap(try DataKey.generate(), associatedData: TestContext.associatedData)
            }
            #expect(error?.kind == .insufficientPermissions)
            #expect(error?.message.contains("Google Cloud KMS") == true)
            #expect(error?.message.contains("cmk_org_abc") == true)
            #expect(double.tokenGrants == 2)
            #expect(double.kmsCalls == 2)
        }
    }

    @Test("a disabled key version is 403 with no fallback, and works again once enabled")
    func disabledKey() async throws {
        try await GoogleKMSDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            double.state.withLock { $0.keyEnabled = false }
            let unwrapError = await #expect(throws: LocalVaultError.self) {
                _ = try await provider.unwrap(wrapped, associatedData: TestContext.associatedData)
            }
            #expect(unwrapError?.kind == .insufficientPermissions)
            #expect(unwrapError?.httpStatus == 403)
            #expect(unwrapError?.message.contains("Google Cloud KMS") == true)
            #expect(unwrapError?.message.contains("FAILED_PRECONDITION") == true)
            let wrapError = await #expect(throws: LocalVaultError.self) {
                _ = try await provider.wrap(key, associatedData: TestContext.associatedData)
            }
            #expect(wrapError?.kind == .insufficientPermissions)
            double.state.withLock { $0.keyEnabled = true }
            #expect(try await provider.unwrap(wrapped, associatedData: TestContext.associatedData) == key)
        }
    }

    @Test("a missing IAM grant (403 PERMISSION_DENIED) is insufficient permissions")
    func permissionDenied() async throws {
        try await GoogleKMSDouble().run { double in
            double.state.withLock { $0.granted = false }
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await provider.wrap(try DataKey.generate(), associatedData: TestContext.associatedData)
            }
            #expect(error?.kind == .insufficientPermissions)
            #expect(error?.message.contains("PERMISSION_DENIED") == true)
        }
    }

    @Test("429 and 5xx are retried with backoff; when they persist the key is unavailable (503)")
    func throttlingAndOutages() async throws {
        try await GoogleKMSDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            double.kmsFaults.push(.status(429))
            double.kmsFaults.push(.status(503))
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            #expect(double.kmsCalls == 3)
            double.kmsFaults.push(.status(500), times: 3)
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await provider.unwrap(wrapped, associatedData: TestContext.associatedData)
            }
            #expect(error?.kind == .unavailable)
            #expect(error?.httpStatus == 503)
            #expect(double.kmsCalls == 6)
            #expect(try await provider.unwrap(wrapped, associatedData: TestContext.associatedData) == key)
        }
    }

    @Test("the token endpoint's 429/5xx are retried too; a refused grant (invalid_grant) is 403")
    func tokenEndpointFaults() async throws {
        try await GoogleKMSDouble().run { double in
            let folder = try TemporaryFolder()
            double.tokenFaults.push(.status(503))
            double.tokenFaults.push(.status(429))
            let provider = try Self.provider(double, in: folder)
            _ = try await provider.wrap(try DataKey.generate(), associatedData: TestContext.associatedData)
            #expect(double.tokenGrants == 1)

            // A key file whose private key Google does not know (deleted service-account key).
            let impostor = try GoogleKMSDouble()
            let json = try impostor.credentialsJSON(tokenURI: double.tokenURI)
            let other = try TemporaryFolder()
            let refused = try Self.provider(double, in: other, credentials: json)
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await refused.wrap(try DataKey.generate(), associatedData: TestContext.associatedData)
            }
            #expect(error?.kind == .insufficientPermissions)
            #expect(error?.message.contains("invalid_grant") == true)
            expectNoSecrets(in: error, secrets: ["PRIVATE KEY", "ya29."])
        }
    }

    @Test("a call that does not answer in time is retried, then the key is unavailable")
    func timeouts() async throws {
        try await GoogleKMSDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder, timeout: .milliseconds(400))
            let key = try DataKey.generate()
            double.kmsFaults.push(.delay(.seconds(2)))
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            double.kmsFaults.push(.delay(.seconds(2)), times: 3)
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await provider.unwrap(wrapped, associatedData: TestContext.associatedData)
            }
            #expect(error?.kind == .unavailable)
            #expect(error?.message.contains("no answer within") == true)
        }
    }

    @Test("errors and descriptions hold no token, private key or key material")
    func noSecretsInErrors() async throws {
        try await GoogleKMSDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            let tokens = double.state.withLock { Array($0.tokens.keys) }
            let secrets = tokens + [key.base64EncodedString(), Base64.encode(wrapped), "PRIVATE KEY", "MII"]
            #expect(!tokens.isEmpty)
            expectNoSecrets(in: GCPKMSProviderError(provider), secrets: secrets)
            double.state.withLock { $0.keyEnabled = false }
            do {
                _ = try await provider.unwrap(wrapped, associatedData: TestContext.associatedData)
                Issue.record("a disabled key unwrapped")
            } catch {
                expectNoSecrets(in: error, secrets: secrets)
            }
            double.state.withLock { $0.keyEnabled = true }
            do {
                _ = try await provider.unwrap(wrapped, associatedData: TestContext.otherAssociatedData)
                Issue.record("other associated data unwrapped")
            } catch {
                expectNoSecrets(in: error, secrets: secrets)
            }
        }
    }
}

/// A provider's description, checked like an error's.
private struct GCPKMSProviderError: Error, CustomStringConvertible {
    let provider: GCPKMSProvider
    init(_ provider: GCPKMSProvider) { self.provider = provider }
    var description: String {
        var dumped = ""
        dump(provider, to: &dumped)
        return "\(provider) \(String(reflecting: provider)) \(dumped)"
    }
}

extension Array where Element == UInt8 {
    func containsSubsequence(_ other: [UInt8]) -> Bool {
        guard !other.isEmpty, other.count <= count else { return false }
        return (0...(count - other.count)).contains { Array(self[$0..<($0 + other.count)]) == other }
    }
}
