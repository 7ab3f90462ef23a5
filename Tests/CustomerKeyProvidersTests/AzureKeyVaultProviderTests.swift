import EnvelopeCrypto
import Foundation
import LocalVault
import Testing
import VaultHTTP

@testable import CustomerKeyProviders

/// The Azure Key Vault provider against ``AzureKeyVaultDouble``, a contract double of Entra ID's
/// token endpoint and Key Vault's wrapkey/unwrapkey (not the cloud).
@Suite("Azure Key Vault provider (contract double)")
struct AzureKeyVaultProviderTests {
    static func provider(
        _ double: AzureKeyVaultDouble,
        in folder: borrowing TemporaryFolder,
        secret: String = AzureKeyVaultDouble.clientSecret,
        timeout: Duration = .seconds(5)
    ) throws -> AzureKeyVaultProvider {
        let file = try folder.write("client-secret", secret + "\n")
        return try AzureKeyVaultProvider(
            keyID: "cmk_org_abc",
            keyURL: double.keyURL,
            tenantID: AzureKeyVaultDouble.tenantID,
            clientID: AzureKeyVaultDouble.clientID,
            clientSecretFile: file,
            endpoint: double.baseURL,
            environment: [:],
            timeout: timeout,
            retry: TestRetry.fast
        )
    }

    @Test("wrap and unwrap round-trip; Key Vault only ever sees a one-time key, never the data key")
    func roundTrip() async throws {
        try await AzureKeyVaultDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            let parsed = try #require(AzureWrappedKey(parsing: wrapped))
            #expect(parsed.keyVersion == AzureKeyVaultDouble.firstVersion)
            #expect(parsed.ciphertext.count == 256)
            let expectedCount = 2 + AzureKeyVaultDouble.firstVersion.utf8.count + 2 + 256 + DataKey.wrappedByteCount
            #expect(wrapped.count == expectedCount)
            #expect(!wrapped.containsSubsequence(key.bytes))
            let sentToKeyVault = try #require(double.rsaKey()).decryptOAEP256(
                base64URLDecode(double.state.withLock { $0.lastWrapValue })
            )
            #expect(parsed.ciphertext == (try base64URLDecode(double.state.withLock { $0.lastWrapValue })))
            #expect(sentToKeyVault.count == 32)
            #expect(sentToKeyVault != key.bytes)
            #expect(try await provider.unwrap(wrapped, associatedData: TestContext.associatedData) == key)
            let again = try await provider.wrap(key, associatedData: TestContext.associatedData)
            #expect(again != wrapped)
            #expect(try await provider.unwrap(again, associatedData: TestContext.associatedData) == key)
            #expect(double.tokenGrants == 1)
            #expect(double.keyCalls == 4)
        }
    }

    @Test("other associated data, an altered seal or Key Vault ciphertext, a bad layout: foreign keys (400)")
    func foreignCiphertexts() async throws {
        try await AzureKeyVaultDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let wrapped = try await provider.wrap(try DataKey.generate(), associatedData: TestContext.associatedData)
            var alteredSeal = wrapped
            alteredSeal[alteredSeal.count - 1] ^= 0x01
            var alteredRSA = wrapped
            alteredRSA[40] ^= 0x01
            var otherVersion = wrapped
            otherVersion[0] = 2
            let cases: [([UInt8], [UInt8])] = [
                (wrapped, TestContext.otherAssociatedData), (wrapped, []), (alteredSeal, TestContext.associatedData),
                (alteredRSA, TestContext.associatedData), (otherVersion, TestContext.associatedData),
                (Array(wrapped.dropLast()), TestContext.associatedData), ([], TestContext.associatedData),
            ]
            for (candidate, associatedData) in cases {
                let error = await #expect(throws: LocalVaultError.self) {
                    _ = try await provider.unwrap(candidate, associatedData: associatedData)
                }
                #expect(error == LocalVaultError.foreignKeys)
            }
        }
    }

    @Test("after a key rotation, keys wrapped under the old version are unwrapped by that version")
    func rotation() async throws {
        try await AzureKeyVaultDouble().run { double in
            let folder = try TemporaryFolder()
            let before = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            let wrappedBefore = try await before.wrap(key, associatedData: TestContext.associatedData)
            let newVersion = try double.rotate()
            let otherFolder = try TemporaryFolder()
            let after = try Self.provider(double, in: otherFolder)
            #expect(after.keyURL.hasSuffix(newVersion))
            #expect(try await after.unwrap(wrappedBefore, associatedData: TestContext.associatedData) == key)
            let wrappedAfter = try await after.wrap(key, associatedData: TestContext.associatedData)
            #expect(AzureWrappedKey(parsing: wrappedAfter)?.keyVersion == newVersion)
            #expect(try await before.unwrap(wrappedAfter, associatedData: TestContext.associatedData) == key)
            // A stored version that is not the key's own: Key Vault does not know it (404), a refusal.
            var forged = try #require(AzureWrappedKey(parsing: wrappedBefore))
            forged.keyVersion = "0000000000000000000000000000dead"
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await after.unwrap(forged.bytes, associatedData: TestContext.associatedData)
            }
            #expect(error?.kind == .insufficientPermissions)
        }
    }

    @Test("tokens are cached, replaced when they expire, and refreshed once after a 401")
    func tokenLifecycle() async throws {
        try await AzureKeyVaultDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            _ = try await provider.unwrap(wrapped, associatedData: TestContext.associatedData)
            #expect(double.tokenGrants == 1)
            double.revokeAllTokens()
            #expect(try await provider.unwrap(wrapped, associatedData: TestContext.associatedData) == key)
            #expect(double.tokenGrants == 2)
            #expect(double.keyCalls == 4)

            double.state.withLock { $0.expiresIn = 2 }
            double.revokeAllTokens()
            _ = try await provider.unwrap(wrapped, associatedData: TestContext.associatedData)
            #expect(double.tokenGrants == 3)
            try await Task.sleep(for: .milliseconds(1200))
            _ = try await provider.unwrap(wrapped, associatedData: TestContext.associatedData)
            #expect(double.tokenGrants == 4)
        }
    }

    @Test("401 after a fresh token, a wrong client secret, a disabled key: 403 naming Azure Key Vault")
    func refusals() async throws {
        try await AzureKeyVaultDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)

            double.state.withLock { $0.keyEnabled = false }
            let disabled = await #expect(throws: LocalVaultError.self) {
                _ = try await provider.unwrap(wrapped, associatedData: TestContext.associatedData)
            }
            #expect(disabled?.kind == .insufficientPermissions)
            #expect(disabled?.message.contains("Azure Key Vault") == true)
            #expect(disabled?.message.contains("KeyDisabled") == true)
            double.state.withLock { $0.keyEnabled = true }
            #expect(try await provider.unwrap(wrapped, associatedData: TestContext.associatedData) == key)

            double.state.withLock { $0.refuseAllTokens = true }
            let grantsBefore = double.tokenGrants
            let unauthorized = await #expect(throws: LocalVaultError.self) {
                _ = try await provider.unwrap(wrapped, associatedData: TestContext.associatedData)
            }
            #expect(unauthorized?.kind == .insufficientPermissions)
            #expect(double.tokenGrants == grantsBefore + 1)
            double.state.withLock { $0.refuseAllTokens = false }

            let otherFolder = try TemporaryFolder()
            let wrongSecret = try Self.provider(double, in: otherFolder, secret: "not-the-secret")
            let invalidClient = await #expect(throws: LocalVaultError.self) {
                _ = try await wrongSecret.wrap(key, associatedData: TestContext.associatedData)
            }
            #expect(invalidClient?.kind == .insufficientPermissions)
            #expect(invalidClient?.message.contains("Azure Key Vault") == true)
            for error in [disabled, unauthorized, invalidClient] {
                expectNoSecrets(
                    in: error,
                    secrets: [
                        AzureKeyVaultDouble.clientSecret, "not-the-secret", key.base64EncodedString(), "eyJ0eXAi",
                    ]
                )
            }
        }
    }

    @Test("429 and 5xx from Key Vault and the token endpoint are retried; persistent ones are 503")
    func throttlingAndOutages() async throws {
        try await AzureKeyVaultDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder)
            let key = try DataKey.generate()
            double.tokenFaults.push(.status(500))
            double.keyFaults.push(.status(429))
            double.keyFaults.push(.status(502))
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            #expect(double.tokenGrants == 1)
            #expect(double.keyCalls == 3)
            double.keyFaults.push(.status(503), times: 3)
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await provider.unwrap(wrapped, associatedData: TestContext.associatedData)
            }
            #expect(error?.kind == .unavailable)
            #expect(error?.message.contains("Azure Key Vault") == true)
            #expect(try await provider.unwrap(wrapped, associatedData: TestContext.associatedData) == key)
        }
    }

    @Test("a Key Vault or token endpoint that does not answer in time: retried, then 503")
    func timeouts() async throws {
        try await AzureKeyVaultDouble().run { double in
            let folder = try TemporaryFolder()
            let provider = try Self.provider(double, in: folder, timeout: .milliseconds(400))
            double.tokenFaults.push(.delay(.seconds(2)))
            let key = try DataKey.generate()
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            double.keyFaults.push(.delay(.seconds(2)), times: 3)
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await provider.unwrap(wrapped, associatedData: TestContext.associatedData)
            }
            #expect(error?.kind == .unavailable)
            #expect(error?.message.contains("no answer within") == true)
        }
    }

    @Test("the client secret may come from AZURE_CLIENT_SECRET; neither file nor variable is a configuration error")
    func secretFromEnvironment() async throws {
        try await AzureKeyVaultDouble().run { double in
            let provider = try AzureKeyVaultProvider(
                keyID: "cmk_org_abc",
                keyURL: double.keyURL,
                tenantID: AzureKeyVaultDouble.tenantID,
                clientID: AzureKeyVaultDouble.clientID,
                clientSecretFile: nil,
                endpoint: double.baseURL,
                environment: ["AZURE_CLIENT_SECRET": AzureKeyVaultDouble.clientSecret],
                retry: TestRetry.fast
            )
            let key = try DataKey.generate()
            let wrapped = try await provider.wrap(key, associatedData: TestContext.associatedData)
            #expect(try await provider.unwrap(wrapped, associatedData: TestContext.associatedData) == key)
            var dumped = ""
            dump(provider, to: &dumped)
            #expect(!dumped.contains(AzureKeyVaultDouble.clientSecret))
            #expect(!"\(provider)".contains(AzureKeyVaultDouble.clientSecret))

            let error = #expect(throws: LocalVaultError.self) {
                try AzureKeyVaultProvider(
                    keyID: "cmk_org_abc",
                    keyURL: double.keyURL,
                    tenantID: AzureKeyVaultDouble.tenantID,
                    clientID: AzureKeyVaultDouble.clientID,
                    clientSecretFile: nil,
                    environment: [:]
                )
            }
            #expect(error?.message.contains("AZURE_CLIENT_SECRET") == true)
        }
    }
}
