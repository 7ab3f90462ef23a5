import Foundation
import LocalVault
import VaultHTTP

/// One OAuth2 token request (RFC 6749 section 4; Google's JWT bearer grant, RFC 7523, and Entra
/// ID's client-credentials grant), sent through the key's ``ProviderRequest``: same timeout and
/// retries, and a token endpoint that refuses the credentials (`invalid_grant` for a deleted or
/// disabled service-account key, `invalid_client` for a wrong or expired client secret, 401/403)
/// makes the key unusable (403), as a refusal at the key service itself would.
enum OAuthTokenRequest {
    /// The token endpoint's error codes (RFC 6749 section 5.2) that mean the credentials may not be used.
    static let refusalCodes: Set<String> = ["invalid_grant", "invalid_client", "unauthorized_client", "access_denied"]

    /// Posts `fields` to `url` and reads `access_token` and `expires_in` from the answer.
    /// - Throws: ``LocalVault/LocalVaultError``: 403 when the credentials are refused, 503 when the
    ///   endpoint stays unavailable, 500 for an answer that is not a token. Never the body or a secret.
    static func fetch(
        _ fields: [(name: String, value: String)],
        from url: String,
        through request: ProviderRequest
    ) async throws -> AccessToken {
        let response = try await request.send(
            TransportRequest(
                method: .post,
                url: url,
                headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
                body: FormEncoding.encode(fields)
            ),
            errorCode: { response in
                (try? JSONDecoder().decode(ErrorAnswer.self, from: Data(response.body)))?.error
            },
            refusalCodes: refusalCodes
        )
        guard let answer = try? JSONDecoder().decode(TokenAnswer.self, from: Data(response.body)),
            !answer.access_token.isEmpty, answer.token_type.map({ $0.lowercased() == "bearer" }) ?? true
        else {
            throw LocalVaultError(
                .internalError,
                "the customer-managed key \(request.keyID) (\(request.providerName)): the token endpoint's answer is not a bearer token"
            )
        }
        // Without `expires_in`, assume a short life rather than caching a token for too long.
        let lifetime = answer.expires_in.map { Duration.seconds(max(1, $0)) } ?? .seconds(300)
        return AccessToken(value: answer.access_token, lifetime: lifetime)
    }

    private struct TokenAnswer: Decodable {
        var access_token: String
        var token_type: String?
        var expires_in: Int?
    }

    private struct ErrorAnswer: Decodable {
        var error: String
    }
}
