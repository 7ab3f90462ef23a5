import EnvelopeCrypto
import Foundation
import LocalVault
import Testing
import VaultAPI
import WorkOSVault

/// `vault serve` with an AWS KMS customer-managed key, against moto's KMS (``MotoServer``): data
/// keys, messages and objects under the key; revocation at KMS is a 403 naming AWS KMS with no
/// fallback to a Vault-managed KEK; the customer-key cache keeps serving for its TTL only.
@Suite(
    .enabled(
        if: MotoServer.enabled,
        "needs moto_server (scripts/bootstrap --test-tools); with CI=true its absence fails"
    ),
    .timeLimit(.minutes(5))
)
struct AWSKMSServeTests {
    static let apiKey = "sk_test_byok_aws"
    static let context: KeyContext = ["organization_id": "org_abc"]
    /// moto accepts any credentials; these reach KMS only signed.
    static let credentials = ["AWS_ACCESS_KEY_ID": "AKIDVAULTTEST", "AWS_SECRET_ACCESS_KEY": "vault-test-secret"]

    static func writeCustomerKeys(
        _ directory: String,
        arn: String,
        endpoint: String,
        contextValue: String = "org_abc"
    )
        throws -> String
    {
        let file = directory + "/byok.json"
        let json = """
            {"customer_keys": [{"context_key": "organization_id", "context_value": "\(contextValue)",
              "key_id": "cmk_org_abc", "provider": "aws-kms", "arn": "\(arn)", "endpoint": "\(endpoint)"}]}
            """
        try Data(json.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    static func serve(_ directory: String, byok: String, cacheTTL: Int) async throws -> VaultProcess {
        try await VaultProcess.serve(
            dataDirectory: directory,
            apiKeys: apiKey,
            arguments: ["--customer-keys", byok, "--customer-key-cache-ttl", "\(cacheTTL)"],
            environment: credentials
        )
    }

    static func client(_ server: VaultProcess) throws -> Vault {
        let remote = try RemoteConfiguration(apiKey: apiKey, baseURL: server.baseURL, retry: .none)
        return try Vault(configuration: VaultConfiguration(backend: .remote(remote), decryptCache: nil))
    }

    /// Expects a 403 whose message says insufficient permissions and names AWS KMS.
    static func expectRefused(
        _ body: () async throws -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    )
        async
    {
        let error = await #expect(throws: VaultError.self, sourceLocation: sourceLocation) { try await body() }
        #expect(error?.httpStatus == 403, sourceLocation: sourceLocation)
        #expect(error?.message.contains("insufficient permissions") == true, sourceLocation: sourceLocation)
        #expect(error?.message.contains("AWS KMS") == true, sourceLocation: sourceLocation)
    }

    @Test func dataKeysMessagesAndObjectsUnderAnAWSKMSKeyAndItsRevocation() async throws {
        try await MotoServer.with { moto in
            try await withTemporaryDirectory { directory in
                let arn = try await moto.kms("create")
                let byok = try Self.writeCustomerKeys(directory, arn: arn, endpoint: moto.endpoint)
                let server = try await Self.serve(directory, byok: byok, cacheTTL: 0)
                defer { server.stop() }
                let vault = try Self.client(server)

                // Encrypt, decrypt, rekey, objects: all through KMS.
                let blob = try await vault.encrypt("card 4242", context: Self.context)
                #expect(try await vault.decrypt(blob) == "card 4242")
                let key = try await vault.createDataKey(context: Self.context)
                let encryptedKeys = Base64.encode(key.encryptedKeys)
                #expect(try await vault.decryptDataKey(encryptedKeys: encryptedKeys).key == key.key)
                let plain = try await vault.createDataKey(context: ["organization_id": "org_plain"])
                let rekeyed = try await vault.rekeyDataKey(
                    encryptedKeys: Base64.encode(plain.encryptedKeys),
                    to: Self.context
                )
                #expect(rekeyed.key == plain.key)
                #expect(
                    try await vault.decryptDataKey(encryptedKeys: Base64.encode(rekeyed.encryptedKeys)).key == plain.key
                )
                let object = try await vault.createObject(name: "byok-secret", value: "s3cr3t", context: Self.context)
                #expect(try await vault.readObject(id: object.id).value == "s3cr3t")

                // DisableKey: 403 naming AWS KMS, and no Vault-managed KEK instead.
                try await moto.kms("disable", arn)
                await Self.expectRefused { _ = try await vault.decryptDataKey(encryptedKeys: encryptedKeys) }
                await Self.expectRefused { _ = try await vault.createDataKey(context: Self.context) }
                await Self.expectRefused { _ = try await vault.decrypt(blob) }
                await Self.expectRefused { _ = try await vault.readObject(id: object.id) }
                // Other contexts keep their Vault-managed KEKs.
                #expect(
                    try await vault.decryptDataKey(encryptedKeys: Base64.encode(plain.encryptedKeys)).key == plain.key
                )
                #expect(!server.standardError.contains("vault-test-secret"))

                // EnableKey: everything works again.
                try await moto.kms("enable", arn)
                #expect(try await vault.decryptDataKey(encryptedKeys: encryptedKeys).key == key.key)
                #expect(try await vault.readObject(id: object.id).value == "s3cr3t")

                // ScheduleKeyDeletion: 403.
                try await moto.kms("schedule-deletion", arn)
                await Self.expectRefused { _ = try await vault.decryptDataKey(encryptedKeys: encryptedKeys) }
                await Self.expectRefused { _ = try await vault.createDataKey(context: Self.context) }
            }
        }
    }

    @Test func anotherEncryptionContextIsRefused() async throws {
        try await MotoServer.with { moto in
            try await withTemporaryDirectory { directory in
                let arn = try await moto.kms("create")
                let byok = try Self.writeCustomerKeys(directory, arn: arn, endpoint: moto.endpoint)
                let first = try await Self.serve(directory, byok: byok, cacheTTL: 0)
                let key = try await Self.client(first).createDataKey(context: Self.context)
                first.stop()

                // The same key id now stands for another pair: KMS is asked with that pair as the
                // encryption context and refuses.
                let moved = try Self.writeCustomerKeys(
                    directory,
                    arn: arn,
                    endpoint: moto.endpoint,
                    contextValue: "org_xyz"
                )
                let second = try await Self.serve(directory, byok: moved, cacheTTL: 0)
                defer { second.stop() }
                await Self.expectRefused {
                    _ = try await Self.client(second).decryptDataKey(encryptedKeys: Base64.encode(key.encryptedKeys))
                }
            }
        }
    }

    @Test func theCacheServesForItsTTLOnly() async throws {
        try await MotoServer.with { moto in
            try await withTemporaryDirectory { directory in
                let arn = try await moto.kms("create")
                let byok = try Self.writeCustomerKeys(directory, arn: arn, endpoint: moto.endpoint)
                let server = try await Self.serve(directory, byok: byok, cacheTTL: 2)
                defer { server.stop() }
                let vault = try Self.client(server)
                let key = try await vault.createDataKey(context: Self.context)
                let encryptedKeys = Base64.encode(key.encryptedKeys)
                #expect(try await vault.decryptDataKey(encryptedKeys: encryptedKeys).key == key.key)
                let disabledAt = ContinuousClock.now
                try await moto.kms("disable", arn)
                // Within the TTL the cached key still answers (when the machine is not too slow to tell).
                let cached = try? await vault.decryptDataKey(encryptedKeys: encryptedKeys)
                if ContinuousClock.now - disabledAt < .seconds(1) { #expect(cached?.key == key.key) }
                // After it, KMS is asked again and refuses.
                try await Task.sleep(for: .milliseconds(2_200))
                await Self.expectRefused { _ = try await vault.decryptDataKey(encryptedKeys: encryptedKeys) }
            }
        }
    }

    @Test func verifyCustomerKeyReportsTheRoundTrip() async throws {
        try await MotoServer.with { moto in
            try await withTemporaryDirectory { directory in
                let arn = try await moto.kms("create")
                let byok = try Self.writeCustomerKeys(directory, arn: arn, endpoint: moto.endpoint)
                let arguments = [
                    "admin", "verify-customer-key", "--context", "organization_id=org_abc", "--customer-keys", byok,
                ]
                let ok = try await VaultProcess.run(arguments, environment: Self.credentials)
                #expect(ok.status == 0, "\(ok.error)")
                #expect(ok.output.contains("cmk_org_abc: ok"))

                let none = try await VaultProcess.run(
                    ["admin", "verify-customer-key", "--context", "organization_id=org_none", "--customer-keys", byok],
                    environment: Self.credentials
                )
                #expect(none.status == 2)

                try await moto.kms("disable", arn)
                let refused = try await VaultProcess.run(arguments, environment: Self.credentials)
                #expect(refused.status == 3)
                #expect(refused.error.contains("insufficient permissions"))
                #expect(refused.error.contains("AWS KMS"))
                #expect(!(refused.output + refused.error).contains("vault-test-secret"))
            }
        }
    }

    @Test func verifyCustomerKeyRecordsItsOutcomeAsAnEvent() async throws {
        try await MotoServer.with { moto in
            try await withTemporaryDirectory { directory in
                let arn = try await moto.kms("create")
                let byok = try Self.writeCustomerKeys(directory, arn: arn, endpoint: moto.endpoint)
                let data = (directory as NSString).appendingPathComponent("data")
                let configuration = LocalVaultConfiguration(
                    dataDirectory: data,
                    purgesInBackground: false,
                    recordsEvents: true
                )
                await (try LocalVault(configuration: configuration)).close()
                let arguments = [
                    "admin", "verify-customer-key", "--context", "organization_id=org_abc", "--customer-keys", byok,
                    "--record-event", "--data-dir", data,
                ]
                let ok = try await VaultProcess.run(arguments, environment: Self.credentials)
                #expect(ok.status == 0, "\(ok.error)")
                #expect(ok.output.contains("recorded vault.byok_key.verification_completed"))
                try await moto.kms("disable", arn)
                #expect(try await VaultProcess.run(arguments, environment: Self.credentials).status == 3)

                let vault = try LocalVault(configuration: configuration)
                let events = try await vault.listEvents(
                    EventListQuery(events: [.byokKeyVerificationCompleted], order: .ascending),
                    environmentID: LocalVault.defaultEnvironmentID
                ).data
                await vault.close()
                #expect(events.map(\.data.verified) == [true, false])
                for event in events {
                    #expect(event.data.organizationID == "org_abc")
                    #expect(event.data.keyProvider == .awsKMS)
                    #expect(event.data.actorID == nil)
                }
            }
        }
    }
}

/// The BYOK file is validated when `vault serve` starts: an AWS KMS entry it cannot use stops it.
@Suite(.enabled(if: VaultProcess.binary != nil || isCI, "needs a built vault"))
struct AWSKMSConfigurationServeTests {
    @Test(arguments: [
        (#""arn": "arn:aws:kms:us-east-1:111122223333:key/k""#, "no AWS credentials"),
        (#""arn": "not-an-arn""#, "not an AWS KMS key ARN"),
        (#""endpoint": "http://127.0.0.1:1""#, "'arn'"),
    ])
    func anUnusableEntryStopsServeAtStart(fields: String, expected: String) async throws {
        try await withTemporaryDirectory { directory in
            let byok = directory + "/byok.json"
            let json = """
                {"customer_keys": [{"context_key": "organization_id", "context_value": "org_abc",
                  "key_id": "cmk_org_abc", "provider": "aws-kms", \(fields)}]}
                """
            try Data(json.utf8).write(to: URL(fileURLWithPath: byok))
            let result = try await VaultProcess.run(
                ["serve", "--port", "0", "--data-dir", directory, "--customer-keys", byok],
                environment: [
                    "VAULT_API_KEYS": "sk_test_config", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                    "AWS_SHARED_CREDENTIALS_FILE": directory + "/no-credentials", "HOME": directory,
                ],
                timeout: .seconds(30)
            )
            #expect(result.status != 0)
            #expect(result.error.contains(expected), "\(result.error)")
        }
    }

    @Test("verify-customer-key: a key service that cannot be reached is exit 5, named, with no secret")
    func verifyCustomerKeyWithAnUnreachableService() async throws {
        try await withTemporaryDirectory { directory in
            let byok = directory + "/byok.json"
            // Port 1 on loopback: nothing listens, every connection is refused at once.
            let json = """
                {"customer_keys": [{"context_key": "organization_id", "context_value": "org_abc",
                  "key_id": "cmk_org_abc", "provider": "aws-kms",
                  "arn": "arn:aws:kms:us-east-1:111122223333:key/k", "endpoint": "http://127.0.0.1:1"}]}
                """
            try Data(json.utf8).write(to: URL(fileURLWithPath: byok))
            let secret = "verify-secret-access-key-never-printed"
            let result = try await VaultProcess.run(
                [
                    "admin", "verify-customer-key", "--context", "organization_id=org_abc", "--customer-keys", byok,
                ],
                environment: [
                    "AWS_ACCESS_KEY_ID": "AKIDVERIFY", "AWS_SECRET_ACCESS_KEY": secret,
                    "AWS_SHARED_CREDENTIALS_FILE": directory + "/no-credentials", "HOME": directory,
                ],
                timeout: .seconds(60)
            )
            #expect(result.status == 5, "\(result.error)")
            #expect(result.error.contains("organization_id=org_abc: customer key cmk_org_abc"), "\(result.error)")
            #expect(!result.error.contains(secret) && !result.output.contains(secret))
        }
    }
}
