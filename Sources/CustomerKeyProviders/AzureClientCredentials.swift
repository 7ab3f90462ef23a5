import Foundation
import LocalVault

/// The Entra ID (Azure AD) client-credentials grant of an application with a client secret:
/// `POST {authority}/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`,
/// `client_id`, `client_secret` and the scope `https://vault.azure.net/.default`.
struct AzureClientCredentials: Sendable {
    /// The public Entra ID authority.
    static let defaultAuthority = "https://login.microsoftonline.com"
    /// The scope of Key Vault data-plane calls.
    static let keyVaultScope = "https://vault.azure.net/.default"
    /// The variable read when the entry names no secret file.
    static let secretVariable = "AZURE_CLIENT_SECRET"

    /// Where the secret is: a file read at every token request (so a rotated secret is picked up
    /// without a restart), or the value of ``secretVariable`` when `vault serve` started.
    enum Secret: Sendable, CustomStringConvertible {
        case file(String)
        case environment(String)

        var description: String {
            switch self {
            case .file(let path): "client_secret_file \(path)"
            case .environment: "\(AzureClientCredentials.secretVariable) (redacted)"
            }
        }
    }

    let keyID: String
    let tokenURL: String
    let clientID: String
    let secret: Secret

    /// - Throws: ``LocalVault/LocalVaultError`` naming the field that is wrong, or an unreadable or
    ///   empty secret, never the secret.
    init(keyID: String, tenantID: String, clientID: String, secret: Secret, authority: String?) throws {
        guard Self.isIdentifier(tenantID) else {
            throw ProviderURL.invalid(field: "tenant_id", keyID: keyID, why: "is not a tenant id or domain")
        }
        guard Self.isIdentifier(clientID) else {
            throw ProviderURL.invalid(field: "client_id", keyID: keyID, why: "is not an application (client) id")
        }
        let base = try ProviderURL.validated(authority ?? Self.defaultAuthority, field: "endpoint", keyID: keyID)
        self.keyID = keyID
        tokenURL = "\(base)/\(tenantID)/oauth2/v2.0/token"
        self.clientID = clientID
        self.secret = secret
        _ = try readSecret(forConfiguration: true)
    }

    /// A fresh access token.
    func fetchToken(through request: ProviderRequest) async throws -> AccessToken {
        try await OAuthTokenRequest.fetch(
            [
                ("grant_type", "client_credentials"), ("client_id", clientID),
                ("client_secret", try readSecret(forConfiguration: false)), ("scope", Self.keyVaultScope),
            ],
            from: tokenURL,
            through: request
        )
    }

    /// The secret, trimmed of surrounding white space (a trailing newline in the file).
    /// - Throws: a configuration error at load time; afterwards 403, since the key cannot be used.
    private func readSecret(forConfiguration: Bool) throws -> String {
        let value: String?
        switch secret {
        case .file(let path):
            value = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
        case .environment(let text):
            value = text
        }
        guard let trimmed = value?.trimmingCharacters(in: .whitespacesAndNewlines), !trimmed.isEmpty else {
            let what = "the client secret (\(secret)) cannot be read or is empty"
            throw forConfiguration
                ? LocalVaultError(.internalError, "the customer key \(keyID): \(what)")
                : LocalVaultError(
                    .insufficientPermissions,
                    "insufficient permissions to use the customer-managed key \(keyID) (Azure Key Vault): \(what)"
                )
        }
        return trimmed
    }

    /// A GUID or a domain name: letters, digits, `-` and `.`, nothing that changes a URL path.
    private static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 253
            && text.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || "0123456789-.".unicodeScalars.contains($0))
            }
            && text != "." && text != ".."
    }
}
