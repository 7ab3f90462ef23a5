import EnvelopeCrypto
import Foundation
import LocalVault
import VaultAPI
import VaultHTTP

/// A customer-managed key in AWS KMS: data keys are wrapped with `Encrypt` and unwrapped with
/// `Decrypt` (the JSON 1.1 protocol, SigV4-signed) under the key's ARN.
///
/// The KMS encryption context holds the Vault context pair the key stands for (such as
/// `organization_id = org_abc`), `vault_environment` (the environment that issued the data key)
/// and `vault_binding` (the SHA-256 of the vault's associated data: data key id, key id,
/// environment), so KMS decrypts only for the same binding and CloudTrail shows whose data it was.
/// A disabled key, a key pending deletion, a missing permission or another encryption context is
/// a 403 naming AWS KMS.
public struct AWSKMSProvider: CustomerKeyProvider {
    /// The name in messages.
    public static let providerName = "AWS KMS"
    /// KMS error codes (`__type`) that mean the vault may not use the key.
    static let refusalCodes: Set<String> = [
        "AccessDeniedException", "DisabledException", "KMSInvalidStateException", "NotFoundException",
        "InvalidCiphertextException", "IncorrectKeyException", "KeyUnavailableException",
        "UnrecognizedClientException", "InvalidSignatureException", "InvalidKeyUsageException",
    ]

    /// AWS KMS.
    public var keyService: VaultKeyProvider? { .awsKMS }

    public let keyID: String
    public let arn: String
    public let region: String
    /// The KMS endpoint, such as `https://kms.eu-west-1.amazonaws.com`.
    public let endpoint: String
    public let contextKey: String
    public let contextValue: String
    let credentials: AWSCredentials
    let request: ProviderRequest

    /// - Parameters:
    ///   - arn: `arn:aws:kms:REGION:ACCOUNT:key/KEY-ID` (or an alias ARN); the region comes from it.
    ///   - endpoint: an endpoint to use instead of the region's public one (a VPC endpoint, a test
    ///     server); nil for `https://kms.REGION.amazonaws.com`.
    /// - Throws: ``LocalVaultError`` when the ARN is not a KMS ARN or the endpoint not a URL.
    public init(
        keyID: String,
        arn: String,
        endpoint: String? = nil,
        contextKey: String,
        contextValue: String,
        credentials: AWSCredentials,
        request: ProviderRequest? = nil
    ) throws {
        let (region, suffix) = try Self.region(of: arn, keyID: keyID)
        let endpoint = endpoint ?? "https://kms.\(region).\(suffix)"
        guard let url = URL(string: endpoint), url.scheme == "https" || url.scheme == "http", url.host != nil else {
            throw LocalVaultError(
                .internalError,
                "customer key \(keyID): the endpoint '\(endpoint)' is not an http(s) URL"
            )
        }
        self.keyID = keyID
        self.arn = arn
        self.region = region
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.contextKey = contextKey
        self.contextValue = contextValue
        self.credentials = credentials
        self.request = request ?? ProviderRequest(providerName: Self.providerName, keyID: keyID)
    }

    /// The region of a KMS key ARN and the domain of its partition's endpoints.
    static func region(of arn: String, keyID: String) throws -> (region: String, domain: String) {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "kms", !parts[3].isEmpty,
            parts[5].hasPrefix("key/") || parts[5].hasPrefix("alias/")
        else {
            throw LocalVaultError(
                .internalError,
                "customer key \(keyID): '\(arn)' is not an AWS KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)"
            )
        }
        return (String(parts[3]), parts[1] == "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com")
    }

    /// The provider of a BYOK file entry (`arn`, optional `endpoint`), credentials from the chain
    /// (looked up once the entry itself is known to be valid).
    init(entry: CustomerKeyConfiguration.Entry, environment: [String: String]) throws {
        let arn = try entry.required(entry.arn, "arn")
        _ = try Self.region(of: arn, keyID: entry.key_id)
        try self.init(
            keyID: entry.key_id,
            arn: arn,
            endpoint: entry.endpoint,
            contextKey: entry.context_key,
            contextValue: entry.context_value,
            credentials: try AWSCredentialChain.resolve(environment: environment)
        )
    }

    public func wrap(_ key: DataKey, associatedData: [UInt8]) async throws -> [UInt8] {
        var body = try JSONSerialization.data(
            withJSONObject: [
                "KeyId": arn,
                "Plaintext": key.base64EncodedString(),
                "EncryptionContext": encryptionContext(associatedData),
            ] as [String: Any]
        )
        defer { body.resetBytes(in: 0..<body.count) }
        var response = try await call("Encrypt", body: Array(body))
        defer { response.wipe() }
        guard let reply = try? JSONDecoder().decode(EncryptReply.self, from: Data(response)),
            let blob = Data(base64Encoded: reply.CiphertextBlob)
        else { throw malformedReply("Encrypt") }
        return Array(blob)
    }

    public func unwrap(_ wrapped: [UInt8], associatedData: [UInt8]) async throws -> DataKey {
        let body = try JSONSerialization.data(
            withJSONObject: [
                "KeyId": arn,
                "CiphertextBlob": Data(wrapped).base64EncodedString(),
                "EncryptionContext": encryptionContext(associatedData),
            ] as [String: Any]
        )
        var response = try await call("Decrypt", body: Array(body))
        defer { response.wipe() }
        guard let reply = try? JSONDecoder().decode(DecryptReply.self, from: Data(response)),
            let key = try? DataKey(base64Encoded: reply.Plaintext)
        else { throw malformedReply("Decrypt") }
        return key
    }

    /// The KMS encryption context of one wrap (see the type's description).
    func encryptionContext(_ associatedData: [UInt8]) -> [String: String] {
        var context = [contextKey: contextValue, "vault_binding": SHA256.hexDigest(associatedData)]
        if let environment = CustomerKeyBinding.environmentID(in: associatedData) {
            context["vault_environment"] = environment
        }
        return context
    }

    private struct EncryptReply: Decodable { var CiphertextBlob: String }
    private struct DecryptReply: Decodable { var Plaintext: String }
    private struct ErrorReply: Decodable { var __type: String? }

    /// Signs and sends one `TrentService` action; the 2xx body.
    private func call(_ action: String, body: [UInt8]) async throws -> [UInt8] {
        guard let url = URL(string: endpoint), let host = url.host else {
            throw malformedReply(action)
        }
        let hostHeader = url.port.map { "\(host):\($0)" } ?? host
        let headers: [(name: String, value: String)] = [
            ("Host", hostHeader),
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "TrentService.\(action)"),
        ]
        let path = url.path.isEmpty ? "/" : url.path
        let signer = AWSSignatureV4(credentials: credentials, region: region, service: "kms")
        let signature = signer.sign(
            AWSSignatureV4.Request(method: "POST", path: path, headers: headers, body: body),
            at: Date()
        )
        let response = try await request.send(
            TransportRequest(
                method: .post,
                url: endpoint + (url.path.isEmpty ? "/" : ""),
                headers: headers + signature.headers,
                body: body
            ),
            errorCode: { response in
                let type = (try? JSONDecoder().decode(ErrorReply.self, from: Data(response.body)))?.__type
                return type.map { $0.split(separator: "#").last.map(String.init) ?? $0 }
            },
            refusalCodes: Self.refusalCodes
        )
        return response.body
    }

    private func malformedReply(_ action: String) -> LocalVaultError {
        LocalVaultError(
            .unavailable,
            "the customer-managed key \(keyID) (\(Self.providerName)) is unavailable: the answer to \(action) is not the expected JSON"
        )
    }
}
