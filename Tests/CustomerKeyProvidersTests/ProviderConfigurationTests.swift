import EnvelopeCrypto
import Foundation
import LocalVault
import Testing

@testable import CustomerKeyProviders

@Suite("Google Cloud KMS and Azure Key Vault configuration")
struct ProviderConfigurationTests {
    static func serviceAccountFile(in folder: borrowing TemporaryFolder) throws -> String {
        let pem = String(decoding: try JSONEncoder().encode(try RSAPrivateKey.generate().pkcs8PEM()), as: UTF8.self)
        return try folder.write("sa.json", #"{"client_email": "sa@p.iam.gserviceaccount.com", "private_key": \#(pem)}"#)
    }

    @Test("crypto key names and endpoints are checked")
    func gcpValidation() throws {
        let folder = try TemporaryFolder()
        let file = try Self.serviceAccountFile(in: folder)
        let good = "projects/p-1/locations/europe-west1/keyRings/ring_1/cryptoKeys/key-1"
        let provider = try GCPKMSProvider(keyID: "k", resource: good, credentialsFile: file)
        #expect(provider.endpoint == "https://cloudkms.googleapis.com")
        #expect(
            try GCPKMSProvider(keyID: "k", resource: good, credentialsFile: file, endpoint: "https://kms.internal/")
                .endpoint == "https://kms.internal"
        )
        for resource in [
            "", "projects/p/locations/l/keyRings/r", good + "/cryptoKeyVersions/1",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k?x=1",
            "projects/../locations/l/keyRings/r/cryptoKeys/k", "projects/p/locations/l/keyRings/r/cryptoKeys/k:decrypt",
            "folders/p/locations/l/keyRings/r/cryptoKeys/k",
        ] {
            #expect(throws: LocalVaultError.self, "\(resource)") {
                try GCPKMSProvider(keyID: "k", resource: resource, credentialsFile: file)
            }
        }
        for endpoint in [
            "http://kms.example.com", "ftp://127.0.0.1", "https://user:pw@kms.example.com", "kms.example.com",
        ] {
            let error = #expect(throws: LocalVaultError.self, "\(endpoint)") {
                try GCPKMSProvider(keyID: "k", resource: good, credentialsFile: file, endpoint: endpoint)
            }
            #expect(error?.message.contains("endpoint") == true)
        }
        // The token URI gets the same rule: a signed assertion never goes out over plain http.
        #expect(throws: LocalVaultError.self) {
            try GCPKMSProvider(
                keyID: "k",
                resource: good,
                credentialsFile: file,
                tokenURI: "http://oauth.example.com/token"
            )
        }
    }

    @Test("key version URLs, tenants and client ids are checked")
    func azureValidation() throws {
        let folder = try TemporaryFolder()
        let secret = try folder.write("secret", "s3cret")
        func make(url: String, tenant: String = "contoso.onmicrosoft.com", client: String = "abc-123") throws {
            _ = try AzureKeyVaultProvider(
                keyID: "k",
                keyURL: url,
                tenantID: tenant,
                clientID: client,
                clientSecretFile: secret,
                environment: [:]
            )
        }
        try make(url: "https://contoso.vault.azure.net/keys/org-abc/0123456789abcdef0123456789abcdef")
        for url in [
            "https://contoso.vault.azure.net/keys/org-abc", "https://contoso.vault.azure.net/secrets/a/b",
            "https://contoso.vault.azure.net/keys/a/b/c", "http://contoso.vault.azure.net/keys/a/b",
            "https://contoso.vault.azure.net/keys/a/b?api-version=1", "https://contoso.vault.azure.net/keys/a%2F/b",
        ] {
            #expect(throws: LocalVaultError.self, "\(url)") { try make(url: url) }
        }
        let url = "https://contoso.vault.azure.net/keys/org-abc/0123456789abcdef0123456789abcdef"
        #expect(throws: LocalVaultError.self) { try make(url: url, tenant: "../common") }
        #expect(throws: LocalVaultError.self) { try make(url: url, tenant: "") }
        #expect(throws: LocalVaultError.self) { try make(url: url, client: "a b") }
        let empty = try folder.write("empty", "\n")
        let error = #expect(throws: LocalVaultError.self) {
            try AzureKeyVaultProvider(
                keyID: "k",
                keyURL: url,
                tenantID: "t",
                clientID: "c",
                clientSecretFile: empty,
                environment: [:]
            )
        }
        #expect(error?.message.contains("client secret") == true)
    }

    @Test("BYOK file entries build the providers, with paths relative to the file's folder")
    func entries() throws {
        let folder = try TemporaryFolder()
        _ = try Self.serviceAccountFile(in: folder)
        _ = try folder.write("azure-secret", "s3cret")
        let json = """
            {"customer_keys": [
              {"context_key": "organization_id", "context_value": "org_g", "key_id": "cmk_g", "provider": "gcp-kms",
               "resource": "projects/p/locations/global/keyRings/r/cryptoKeys/k", "credentials_file": "sa.json"},
              {"context_key": "organization_id", "context_value": "org_a", "key_id": "cmk_a", "provider": "azure-key-vault",
               "key_url": "https://contoso.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef",
               "tenant_id": "contoso.onmicrosoft.com", "client_id": "abc-123", "client_secret_file": "azure-secret"}
            ]}
            """
        // Through the BYOK file's loader, as `vault serve` reads it (no cache: the providers themselves).
        let mappings = try CustomerKeyConfiguration.load(
            file: try folder.write("byok.json", json),
            cacheTTL: .zero,
            environment: [:]
        )
        let google = try #require(mappings.first?.provider as? GCPKMSProvider)
        #expect(google.keyID == "cmk_g")
        #expect(google.resource == "projects/p/locations/global/keyRings/r/cryptoKeys/k")
        let azure = try #require(mappings.last?.provider as? AzureKeyVaultProvider)
        #expect(azure.keyID == "cmk_a")
        #expect(mappings.map(\.contextValue) == ["org_g", "org_a"])

        struct File: Decodable { var customer_keys: [CustomerKeyConfiguration.Entry] }
        var entries = try JSONDecoder().decode(File.self, from: Data(json.utf8)).customer_keys
        for index in entries.indices { entries[index].folder = folder.path }
        var missing = entries[0]
        missing.credentials_file = nil
        let error = #expect(throws: LocalVaultError.self) { try GCPKMSProvider(entry: missing) }
        #expect(error?.message.contains("credentials_file") == true)
    }
}
