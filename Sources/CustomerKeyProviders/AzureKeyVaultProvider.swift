import EnvelopeCrypto
import Foundation
import LocalVault
import VaultAPI
import VaultHTTP

/// A customer-managed key in Azure Key Vault (BYOK entry `"provider": "azure-key-vault"`): an RSA
/// key version, used through `wrapkey` and `unwrapkey` with `RSA-OAEP-256`.
///
/// Binding the associated data: `wrapkey` takes no associated data, and RSA-OAEP under a public
/// key would let anyone who can reach the vault's storage swap wrapped keys between contexts.
/// So each wrap draws a one-time 32-byte key `K`, seals the data key under `K` with AES-256-GCM
/// whose associated data is the vault's (context pair and environment), and has Key Vault wrap
/// only `K`. Unwrapping asks Key Vault for `K` and opens the seal with the associated data given
/// again: other associated data fails the GCM tag, and without Key Vault's consent (the key
/// enabled, the application allowed to unwrap) nobody learns `K`. `K` is used for one seal, so a
/// random GCM IV never repeats under it. The stored layout is ``AzureWrappedKey``; it names the
/// key version that wrapped, and unwrapping asks that version, so rotating the key (a new version
/// in `key_url`) leaves keys wrapped before readable while the old version stays enabled.
///
/// Tokens come from the client-credentials grant of an Entra ID application (client secret from a
/// file or `AZURE_CLIENT_SECRET`), cached until shortly before they expire. A disabled or deleted
/// key, or a missing `wrapKey`/`unwrapKey` permission, is a 403 naming Azure Key Vault.
public struct AzureKeyVaultProvider: CustomerKeyProvider, CustomStringConvertible, CustomReflectable {
    /// The Key Vault REST API version used.
    public static let apiVersion = "7.4"
    static let providerName = "Azure Key Vault"

    /// Azure Key Vault.
    public var keyService: VaultKeyProvider? { .azureKeyVault }

    /// The BYOK file's `key_id`.
    public let keyID: String
    /// The key version URL, `https://{vault}.vault.azure.net/keys/{name}/{version}`.
    public let keyURL: String
    /// `keyURL` without its version: `https://{vault}.vault.azure.net/keys/{name}`.
    let keyBaseURL: String
    /// The version in `keyURL`.
    let keyVersion: String
    let request: ProviderRequest
    let tokens: AccessTokenCache

    /// - Parameters:
    ///   - keyURL: a key *version* URL (the version pins the RSA key that unwraps).
    ///   - clientSecretFile: the file of the client secret; nil to use `AZURE_CLIENT_SECRET` from `environment`.
    ///   - endpoint: the Entra ID authority instead of `https://login.microsoftonline.com` (tests,
    ///     sovereign clouds); `https`, or `http` to loopback.
    ///   - timeout: how long one attempt (token or key call) may take.
    ///   - retry: the retries of 429, 5xx, timeouts and lost connections.
    /// - Throws: ``LocalVault/LocalVaultError`` naming what is wrong with the configuration.
    public init(
        keyID: String,
        keyURL: String,
        tenantID: String,
        clientID: String,
        clientSecretFile: String?,
        endpoint: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        timeout: Duration = ProviderRequest.defaultTimeout,
        retry: RetryPolicy = ProviderRequest.defaultRetry
    ) throws {
        let keyURL = try ProviderURL.validated(keyURL, field: "key_url", keyID: keyID)
        guard Self.isKeyVersionURL(keyURL) else {
            throw ProviderURL.invalid(
                field: "key_url",
                keyID: keyID,
                why: "is not a key version URL https://{vault}.vault.azure.net/keys/{name}/{version}"
            )
        }
        let secret: AzureClientCredentials.Secret
        if let clientSecretFile {
            secret = .file(clientSecretFile)
        } else if let value = environment[AzureClientCredentials.secretVariable] {
            secret = .environment(value)
        } else {
            throw ProviderURL.invalid(
                field: "client_secret_file",
                keyID: keyID,
                why: "is missing and \(AzureClientCredentials.secretVariable) is not set"
            )
        }
        let credentials = try AzureClientCredentials(
            keyID: keyID,
            tenantID: tenantID,
            clientID: clientID,
            secret: secret,
            authority: endpoint
        )
        let request = ProviderRequest(providerName: Self.providerName, keyID: keyID, timeout: timeout, retry: retry)
        self.keyID = keyID
        self.keyURL = keyURL
        let slash = keyURL.lastIndex(of: "/")!
        keyBaseURL = String(keyURL[..<slash])
        keyVersion = String(keyURL[keyURL.index(after: slash)...])
        self.request = request
        tokens = AccessTokenCache { try await credentials.fetchToken(through: request) }
    }

    /// The provider of an `azure-key-vault` entry: `key_url`, `tenant_id`, `client_id`, an
    /// optional `client_secret_file` (relative to the BYOK file's folder; else
    /// `AZURE_CLIENT_SECRET` in `environment`) and an optional `endpoint` (the authority).
    public init(
        entry: CustomerKeyConfiguration.Entry,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        try self.init(
            keyID: entry.key_id,
            keyURL: try entry.required(entry.key_url, "key_url"),
            tenantID: try entry.required(entry.tenant_id, "tenant_id"),
            clientID: try entry.required(entry.client_id, "client_id"),
            clientSecretFile: entry.client_secret_file.map(entry.resolved),
            endpoint: entry.endpoint,
            environment: environment
        )
    }

    public var description: String { "AzureKeyVaultProvider(\(keyID), \(keyURL))" }
    /// Only the configuration: never the token cache.
    public var customMirror: Mirror {
        Mirror(self, children: ["key_id": keyID, "key_url": keyURL], displayStyle: .struct)
    }

    public func wrap(_ key: DataKey, associatedData: [UInt8]) async throws -> [UInt8] {
        let oneTimeKey = try DataKey.generate()
        let sealed = try oneTimeKey.wrap(key, associatedData: associatedData)
        var keyBytes = oneTimeKey.withUnsafeBytes { [UInt8]($0) }
        defer { keyBytes.wipe() }
        let response = try await call("wrapkey", url: keyURL, value: keyBytes)
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(response.body)),
            let ciphertext = try? Base64URL.decode(answer.value),
            (1...AzureWrappedKey.maxCiphertextCount).contains(ciphertext.count)
        else { throw malformedAnswer("wrapkey") }
        // Without a `kid`, the version asked; a `kid` of another key is not an answer to trust.
        let answeredVersion: String? = answer.kid.flatMap { self.version(ofKeyID: $0) }
        guard answer.kid == nil || answeredVersion != nil else { throw malformedAnswer("wrapkey") }
        let version = answeredVersion ?? keyVersion
        return AzureWrappedKey(keyVersion: version, ciphertext: ciphertext, sealed: sealed[...]).bytes
    }

    public func unwrap(_ wrapped: [UInt8], associatedData: [UInt8]) async throws -> DataKey {
        guard let parsed = AzureWrappedKey(parsing: wrapped) else { throw LocalVaultError.foreignKeys }
        // Key Vault answers a ciphertext it cannot decrypt (altered, another key) with 400.
        let response = try await call(
            "unwrapkey",
            url: keyBaseURL + "/" + parsed.keyVersion,
            value: parsed.ciphertext
        ) { status, _ in status == 400 }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(response.body)),
            var keyBytes = try? Base64URL.decode(answer.value)
        else { throw malformedAnswer("unwrapkey") }
        defer { keyBytes.wipe() }
        guard keyBytes.count == DataKey.byteCount else { throw LocalVaultError.foreignKeys }
        let oneTimeKey = try DataKey(copying: keyBytes)
        do {
            return try oneTimeKey.unwrap(parsed.sealed, associatedData: associatedData)
        } catch {
            throw LocalVaultError.foreignKeys
        }
    }

    /// The version in a `kid` Key Vault returned, when it names this vault's key; else nil.
    private func version(ofKeyID kid: String) -> String? {
        guard let kid = URLComponents(string: kid), let base = URLComponents(string: keyBaseURL),
            kid.host?.lowercased() == base.host?.lowercased()
        else { return nil }
        let prefix = base.path.lowercased() + "/"
        guard kid.path.lowercased().hasPrefix(prefix) else { return nil }
        let version = String(kid.path.dropFirst(prefix.count))
        return Self.isVersion(version) ? version : nil
    }

    /// The `wrapkey`/`unwrapkey` answer: `{"kid": "…/keys/{name}/{version}", "value": "…"}`.
    private struct Answer: Decodable {
        var kid: String?
        var value: String
    }

    private func call(
        _ operation: String,
        url keyVersionURL: String,
        value: [UInt8],
        isForeign: (Int, String?) -> Bool = { _, _ in false }
    ) async throws -> TransportResponse {
        var body =
            Array(#"{"alg":"RSA-OAEP-256","value":""#.utf8) + Array(Base64URL.encode(value).utf8) + Array(#""}"#.utf8)
        defer { body.wipe() }
        let url = "\(keyVersionURL)/\(operation)?api-version=\(Self.apiVersion)"
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
            errorCode: Self.errorCode,
            isForeign: isForeign
        )
    }

    /// Key Vault's error answer: `{"error": {"code": "Forbidden", "message": "…", "innererror":
    /// {"code": "KeyDisabled"}}}`: the inner code when there is one. The message is never read.
    static func errorCode(_ response: TransportResponse) -> String? {
        struct Answer: Decodable {
            struct Detail: Decodable {
                struct Inner: Decodable { var code: String? }
                var code: String?
                var innererror: Inner?
            }
            var error: Detail
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(response.body)) else { return nil }
        return answer.error.innererror?.code ?? answer.error.code
    }

    private func malformedAnswer(_ operation: String) -> LocalVaultError {
        LocalVaultError(
            .internalError,
            "the customer-managed key \(keyID) (\(Self.providerName)): the answer to \(operation) is malformed"
        )
    }

    /// `…/keys/{name}/{version}`: a name of letters, digits and `-`, a version of letters and digits.
    static func isKeyVersionURL(_ url: String) -> Bool {
        guard let path = URLComponents(string: url)?.path else { return false }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, parts[1] == "keys" else { return false }
        func allowed(_ part: Substring, extra: String) -> Bool {
            !part.isEmpty && part.count <= 127
                && part.unicodeScalars.allSatisfy {
                    $0.isASCII && ($0.properties.isAlphabetic || ("0123456789" + extra).unicodeScalars.contains($0))
                }
        }
        return allowed(parts[2], extra: "-") && isVersion(String(parts[3]))
    }

    /// A key version: 1 to 127 letters and digits (Key Vault's are 32 hex digits).
    static func isVersion(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 127
            && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }
}
