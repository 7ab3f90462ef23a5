import EnvelopeCrypto
import Foundation
import LocalVault
import VaultAPI
import VaultHTTP

/// A customer-managed key in Google Cloud KMS (BYOK entry `"provider": "gcp-kms"`).
///
/// Wrapping is `POST {endpoint}/v1/{resource}:encrypt` with the data key as `plaintext` and the
/// vault's associated data as `additionalAuthenticatedData`; unwrapping is `:decrypt` with the
/// same associated data, so a wrapped key opens only in the context and environment it was made
/// for. Cloud KMS picks the key's primary version to encrypt and finds the version from the
/// ciphertext to decrypt, so rotating the key at Google needs nothing here.
///
/// Access tokens come from the service account's JSON key file by the JWT bearer grant (RS256
/// signed here), cached until shortly before they expire (``AccessTokenCache``). A key that is
/// disabled, destroyed or not granted (`roles/cloudkms.cryptoKeyEncrypterDecrypter`) is a 403
/// naming Google Cloud KMS; a wrapped key that does not open (other associated data, altered) is
/// the vault's 400 for foreign keys.
public struct GCPKMSProvider: CustomerKeyProvider, CustomStringConvertible, CustomReflectable {
    /// The public Cloud KMS endpoint.
    public static let defaultEndpoint = "https://cloudkms.googleapis.com"
    static let providerName = "Google Cloud KMS"

    /// Google Cloud KMS.
    public var keyService: VaultKeyProvider? { .gcpKMS }

    /// The BYOK file's `key_id`.
    public let keyID: String
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
    public let resource: String
    /// The Cloud KMS base URL.
    public let endpoint: String
    let request: ProviderRequest
    let tokens: AccessTokenCache

    /// - Parameters:
    ///   - resource: the crypto key's resource name, `projects/…/locations/…/keyRings/…/cryptoKeys/…`.
    ///   - credentialsFile: the service account's JSON key file.
    ///   - endpoint: another Cloud KMS base URL (a private endpoint, tests); `https`, or `http` to loopback.
    ///   - tokenURI: replaces the key file's `token_uri` (tests).
    ///   - timeout: how long one attempt (token or key call) may take.
    ///   - retry: the retries of 429, 5xx, timeouts and lost connections.
    /// - Throws: ``LocalVault/LocalVaultError`` naming what is wrong with the configuration.
    public init(
        keyID: String,
        resource: String,
        credentialsFile: String,
        endpoint: String? = nil,
        tokenURI: String? = nil,
        timeout: Duration = ProviderRequest.defaultTimeout,
        retry: RetryPolicy = ProviderRequest.defaultRetry
    ) throws {
        guard Self.isCryptoKeyName(resource) else {
            throw ProviderURL.invalid(
                field: "resource",
                keyID: keyID,
                why: "is not a crypto key name projects/…/locations/…/keyRings/…/cryptoKeys/…"
            )
        }
        let account = try GoogleServiceAccount(file: credentialsFile, keyID: keyID, tokenURI: tokenURI)
        let request = ProviderRequest(providerName: Self.providerName, keyID: keyID, timeout: timeout, retry: retry)
        self.keyID = keyID
        self.resource = resource
        self.endpoint = try ProviderURL.validated(endpoint ?? Self.defaultEndpoint, field: "endpoint", keyID: keyID)
        self.request = request
        tokens = AccessTokenCache { try await account.fetchToken(through: request) }
    }

    /// The provider of a `gcp-kms` entry: `resource`, `credentials_file` (relative to the BYOK
    /// file's folder) and an optional `endpoint`.
    public init(entry: CustomerKeyConfiguration.Entry, environment: [String: String] = [:]) throws {
        try self.init(
            keyID: entry.key_id,
            resource: try entry.required(entry.resource, "resource"),
            credentialsFile: entry.resolved(try entry.required(entry.credentials_file, "credentials_file")),
            endpoint: entry.endpoint
        )
    }

    public var description: String { "GCPKMSProvider(\(keyID), \(resource))" }
    /// Only the configuration: never the token cache.
    public var customMirror: Mirror {
        Mirror(self, children: ["key_id": keyID, "resource": resource, "endpoint": endpoint], displayStyle: .struct)
    }

    public func wrap(_ key: DataKey, associatedData: [UInt8]) async throws -> [UInt8] {
        var body = try [UInt8](
            JSONEncoder().encode(
                EncryptBody(
                    plaintext: key.withUnsafeBytes { Base64.encode($0) },
                    additionalAuthenticatedData: Base64.encode(associatedData)
                )
            )
        )
        // Best effort: the copy in this process's request buffers is freed, not wiped.
        defer { body.wipe() }
        let response = try await call("encrypt", body: body)
        guard let answer = try? JSONDecoder().decode(EncryptAnswer.self, from: Data(response.body)),
            let ciphertext = try? Base64.decode(answer.ciphertext), !ciphertext.isEmpty
        else { throw malformedAnswer("encrypt") }
        return ciphertext
    }

    public func unwrap(_ wrapped: [UInt8], associatedData: [UInt8]) async throws -> DataKey {
        guard !wrapped.isEmpty else { throw LocalVaultError.foreignKeys }
        let body = try JSONEncoder().encode(
            DecryptBody(ciphertext: Base64.encode(wrapped), additionalAuthenticatedData: Base64.encode(associatedData))
        )
        let response = try await call("decrypt", body: Array(body)) { status, code in
            // Cloud KMS answers a ciphertext that does not open (another key, other additional
            // authenticated data, altered bytes) with 400 INVALID_ARGUMENT.
            status == 400 && code == "INVALID_ARGUMENT"
        }
        guard let answer = try? JSONDecoder().decode(DecryptAnswer.self, from: Data(response.body)),
            var plaintext = try? Base64.decode(answer.plaintext)
        else { throw malformedAnswer("decrypt") }
        defer { plaintext.wipe() }
        guard plaintext.count == DataKey.byteCount else { throw LocalVaultError.foreignKeys }
        return try DataKey(copying: plaintext)
    }

    /// The error codes (`error.status`) that mean the key may not be used beyond 401/403/404: a
    /// disabled or destroyed key version is 400 FAILED_PRECONDITION at Cloud KMS.
    static let refusalCodes: Set<String> = ["FAILED_PRECONDITION"]

    private func call(
        _ method: String,
        body: [UInt8],
        isForeign: (Int, String?) -> Bool = { _, _ in false }
    ) async throws -> TransportResponse {
        let url = "\(endpoint)/v1/\(resource):\(method)"
        return try await request.send(
            bearer: tokens,
            {
                TransportRequest(
                    method: .post,
                    url: url,
                    headers: [("Content-Type", "application/json"), ("Accept", "application/json")],
                    body: body
                )
            },
            errorCode: { response in
                (try? JSONDecoder().decode(GoogleErrorAnswer.self, from: Data(response.body)))?.error.status
            },
            refusalCodes: Self.refusalCodes,
            isForeign: isForeign
        )
    }

    private func malformedAnswer(_ method: String) -> LocalVaultError {
        LocalVaultError(
            .internalError,
            "the customer-managed key \(keyID) (\(Self.providerName)): the answer to \(method) is malformed"
        )
    }

    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K`, each id of letters, digits, `_` and `-`:
    /// nothing that could change the URL it is placed in.
    static func isCryptoKeyName(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 8 else { return false }
        let labels = ["projects", "locations", "keyRings", "cryptoKeys"]
        return (0..<4).allSatisfy { index in
            let id = parts[2 * index + 1]
            return parts[2 * index] == labels[index] && !id.isEmpty && id.count <= 256
                && id.unicodeScalars.allSatisfy {
                    $0.isASCII && ($0.properties.isAlphabetic || "0123456789_-".unicodeScalars.contains($0))
                }
        }
    }

    private struct EncryptBody: Encodable {
        var plaintext: String
        var additionalAuthenticatedData: String
    }
    private struct EncryptAnswer: Decodable {
        var ciphertext: String
    }
    private struct DecryptBody: Encodable {
        var ciphertext: String
        var additionalAuthenticatedData: String
    }
    private struct DecryptAnswer: Decodable {
        var plaintext: String
    }
}

/// Google's error answer: `{"error": {"code": 403, "message": "…", "status": "PERMISSION_DENIED"}}`.
/// Only `status` is read: the message can quote the request.
struct GoogleErrorAnswer: Decodable {
    struct Detail: Decodable {
        var status: String
    }
    var error: Detail
}
