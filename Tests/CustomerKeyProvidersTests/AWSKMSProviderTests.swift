import Foundation
import LocalVault
import Testing

@testable import CustomerKeyProviders

/// The AWS KMS provider's configuration: ARNs, endpoints, the credential chain and the encryption
/// context. The calls themselves are tested against moto (LocalVaultServerTests/AWSKMSServeTests).
struct AWSKMSProviderTests {
    static let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    static let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMIEXAMPLEKEY")

    @Test func theRegionAndEndpointComeFromTheARN() throws {
        let provider = try AWSKMSProvider(
            keyID: "cmk",
            arn: Self.arn,
            contextKey: "organization_id",
            contextValue: "org_abc",
            credentials: Self.credentials
        )
        #expect(provider.region == "eu-west-1")
        #expect(provider.endpoint == "https://kms.eu-west-1.amazonaws.com")
        let local = try AWSKMSProvider(
            keyID: "cmk",
            arn: Self.arn,
            endpoint: "http://127.0.0.1:4566/",
            contextKey: "organization_id",
            contextValue: "org_abc",
            credentials: Self.credentials
        )
        #expect(local.endpoint == "http://127.0.0.1:4566")
    }

    @Test(arguments: ["", "arn:aws:s3:::bucket", "arn:aws:kms::111122223333:key/x", "arn:aws:kms:eu-west-1:1:thing/x"])
    func aMalformedARNIsRefused(arn: String) {
        #expect(throws: LocalVaultError.self) {
            try AWSKMSProvider(
                keyID: "cmk",
                arn: arn,
                contextKey: "a",
                contextValue: "b",
                credentials: Self.credentials
            )
        }
    }

    @Test func theEncryptionContextNamesThePairAndTheEnvironment() throws {
        let provider = try AWSKMSProvider(
            keyID: "cmk_org_abc",
            arn: Self.arn,
            contextKey: "organization_id",
            contextValue: "org_abc",
            credentials: Self.credentials
        )
        // A version-2 customer entry's associated data: prefix, version, data key id, kind,
        // LEB128 key-id length, key id, environment id.
        var associatedData = Array("LVS.EKM.v1\0".utf8) + [2] + [UInt8](repeating: 7, count: 16) + [2]
        associatedData += [UInt8("cmk_org_abc".utf8.count)] + Array("cmk_org_abc".utf8) + Array("environment_test".utf8)
        let context = provider.encryptionContext(associatedData)
        #expect(context["organization_id"] == "org_abc")
        #expect(context["vault_environment"] == "environment_test")
        #expect(context["vault_binding"]?.count == 64)
        #expect(provider.encryptionContext([1, 2, 3])["vault_environment"] == nil)
    }

    @Test func credentialsComeFromTheEnvironmentFirst() throws {
        let credentials = try AWSCredentialChain.resolve(environment: [
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "secret-env", "AWS_SESSION_TOKEN": "token-env",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        ])
        #expect(credentials.accessKeyID == "AKIDENV")
        #expect(credentials.sessionToken == "token-env")
        #expect(!"\(credentials)".contains("secret-env"))
        #expect(!"\(credentials)".contains("token-env"))
    }

    @Test func thenFromTheSharedFileAndProfile() throws {
        try withConfiguration("{}") { folder, _ in
            let file = folder + "/credentials"
            try Data(
                """
                [default]
                aws_access_key_id = AKIDDEFAULT
                aws_secret_access_key = secret-default
                # a comment
                [vault]
                aws_access_key_id=AKIDVAULT
                aws_secret_access_key=secret-vault
                """.utf8
            ).write(to: URL(fileURLWithPath: file))
            let byDefault = try AWSCredentialChain.resolve(environment: ["AWS_SHARED_CREDENTIALS_FILE": file])
            #expect(byDefault.accessKeyID == "AKIDDEFAULT")
            let named = try AWSCredentialChain.resolve(environment: [
                "AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "vault",
            ])
            #expect(named.accessKeyID == "AKIDVAULT")
            #expect(named.secretAccessKey == "secret-vault")
            let missing = #expect(throws: LocalVaultError.self) {
                try AWSCredentialChain.resolve(environment: [
                    "AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "other",
                ])
            }
            #expect(missing?.message.contains("'other'") == true)
            #expect(missing?.message.contains("secret-vault") == false)
            #expect(missing?.message.contains("secret-default") == false)
        }
        #expect(throws: LocalVaultError.self) {
            try AWSCredentialChain.resolve(environment: ["HOME": "/nonexistent-home"])
        }
    }

    @Test func anAWSKMSEntryLoadsFromTheFile() throws {
        try withConfiguration(
            """
            {"customer_keys": [{"context_key": "organization_id", "context_value": "org_abc", "key_id": "cmk_org_abc",
              "provider": "aws-kms", "arn": "\(Self.arn)", "endpoint": "http://127.0.0.1:4566"}]}
            """
        ) { _, file in
            let environment = ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"]
            let mappings = try CustomerKeyConfiguration.load(file: file, environment: environment)
            let provider = try #require(mappings.first?.provider as? AWSKMSProvider)
            #expect(provider.arn == Self.arn)
            #expect(provider.endpoint == "http://127.0.0.1:4566")
            let cached = try CustomerKeyConfiguration.load(file: file, cacheTTL: .seconds(60), environment: environment)
            #expect(cached.first?.provider is CachingCustomerKeyProvider)
            // No credentials anywhere: refused at load, so `vault serve` does not start with it.
            #expect(throws: LocalVaultError.self) {
                try CustomerKeyConfiguration.load(file: file, environment: ["HOME": "/nonexistent-home"])
            }
        }
    }
}
