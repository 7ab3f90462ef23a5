import EnvelopeCrypto
import Foundation
import LocalVault

/// A Google service-account JSON key file, as the Cloud console downloads it, and the signed JWT
/// of its OAuth2 bearer grant (RFC 7523; Google's "Using OAuth 2.0 for server to server
/// applications").
struct GoogleServiceAccount: Sendable {
    /// The scope of Cloud KMS calls.
    static let kmsScope = "https://www.googleapis.com/auth/cloudkms"
    /// How long a signed assertion is valid: Google accepts at most one hour.
    static let assertionLifetime: Int64 = 3600

    let clientEmail: String
    let privateKeyID: String?
    let tokenURI: String
    let privateKey: RSAPrivateKey

    /// Reads and checks the key file. The file is read once, here: a rotated key file takes effect
    /// when the BYOK configuration is loaded again (SIGHUP).
    /// - Parameter tokenURI: replaces the file's `token_uri` (tests, private endpoints).
    /// - Throws: ``LocalVault/LocalVaultError`` naming the file and what is wrong, never its contents.
    init(file path: String, keyID: String, tokenURI override: String? = nil) throws {
        struct File: Decodable {
            var type: String?
            var client_email: String
            var private_key: String
            var private_key_id: String?
            var token_uri: String?
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LocalVaultError(.internalError, "the customer key \(keyID): cannot read the credentials file \(path)")
        }
        guard let file = try? JSONDecoder().decode(File.self, from: data),
            file.type == nil || file.type == "service_account", !file.client_email.isEmpty
        else {
            throw LocalVaultError(
                .internalError,
                "the customer key \(keyID): \(path) is not a service-account JSON key file "
                    + "(needs \"client_email\" and \"private_key\")"
            )
        }
        do {
            privateKey = try RSAPrivateKey(pem: file.private_key)
        } catch {
            throw LocalVaultError(
                .internalError,
                "the customer key \(keyID): the \"private_key\" of \(path) is not an RSA private key in PEM"
            )
        }
        clientEmail = file.client_email
        privateKeyID = file.private_key_id
        tokenURI = try ProviderURL.validated(
            override ?? file.token_uri ?? "https://oauth2.googleapis.com/token",
            field: "token_uri",
            keyID: keyID
        )
    }

    /// The grant's assertion: `{"alg":"RS256","typ":"JWT","kid":…}` and the claims `iss`, `scope`,
    /// `aud` (the token URI), `iat` and `exp`, RS256-signed with the service account's key.
    func assertion(scope: String = kmsScope, issuedAt: Date = Date()) throws -> String {
        struct Header: Encodable {
            var alg = "RS256"
            var typ = "JWT"
            var kid: String?
        }
        struct Claims: Encodable {
            var iss: String
            var scope: String
            var aud: String
            var iat: Int64
            var exp: Int64
        }
        let iat = Int64(issuedAt.timeIntervalSince1970.rounded(.down))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let header = try encoder.encode(Header(kid: privateKeyID))
        let claims = try encoder.encode(
            Claims(iss: clientEmail, scope: scope, aud: tokenURI, iat: iat, exp: iat + Self.assertionLifetime)
        )
        let signingInput = Base64URL.encode(Array(header)) + "." + Base64URL.encode(Array(claims))
        let signature = try privateKey.signRS256(Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }

    /// A fresh access token from the token URI (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`).
    func fetchToken(through request: ProviderRequest) async throws -> AccessToken {
        try await OAuthTokenRequest.fetch(
            [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", try assertion())],
            from: tokenURI,
            through: request
        )
    }
}
