import Foundation
import LocalVault
import VaultAPI

/// The customer-managed key (BYOK) file of `vault serve --customer-keys`, with every provider.
///
/// ```json
/// {"customer_keys": [
///   {"context_key": "organization_id", "context_value": "org_abc", "key_id": "cmk_org_abc",
///    "provider": "aws-kms", "arn": "arn:aws:kms:eu-west-1:111122223333:key/…"},
///   {"context_key": "organization_id", "context_value": "org_def", "key_id": "cmk_org_def",
///    "provider": "file", "path": "org_def.key"}
/// ]}
/// ```
///
/// Secrets are never inline: credentials come from the provider's own chain or from files the
/// entry names. Relative paths are resolved against the file's folder.
public enum CustomerKeyConfiguration {
    /// The `provider` values this build knows.
    public static let knownProviders = ["file", "aws-kms", "gcp-kms", "azure-key-vault"]

    /// Fields that would hold a secret inline: refused, so that a secret is never copied into the file.
    static let inlineSecretFields: Set<String> = [
        "secret", "client_secret", "secret_access_key", "aws_secret_access_key", "session_token",
        "private_key", "password", "token", "key",
    ]

    /// One entry of the file: the mapping's fields and every provider's own.
    public struct Entry: Decodable, Sendable {
        public var context_key: String
        public var context_value: String
        public var key_id: String
        public var provider: String
        /// `file`: the key file.
        public var path: String?
        /// `aws-kms`: the key ARN.
        public var arn: String?
        /// Any network provider: the endpoint to use instead of the public one.
        public var endpoint: String?
        /// `gcp-kms`: `projects/…/locations/…/keyRings/…/cryptoKeys/…`.
        public var resource: String?
        /// `gcp-kms`: the service-account JSON key file.
        public var credentials_file: String?
        /// `azure-key-vault`: the key (version) URL.
        public var key_url: String?
        /// `azure-key-vault`: the Entra ID tenant.
        public var tenant_id: String?
        /// `azure-key-vault`: the application (client) id.
        public var client_id: String?
        /// `azure-key-vault`: a file holding the client secret.
        public var client_secret_file: String?

        /// The folder of the configuration file, for relative paths.
        public var folder = ""

        enum CodingKeys: String, CodingKey {
            case context_key, context_value, key_id, provider, path, arn, endpoint, resource, credentials_file
            case key_url, tenant_id, client_id, client_secret_file
        }

        /// A field the provider needs.
        /// - Throws: ``LocalVaultError`` naming the field when it is missing or empty.
        public func required(_ value: String?, _ field: String) throws -> String {
            guard let value, !value.isEmpty else {
                throw LocalVaultError(
                    .internalError,
                    "customer key \(key_id): provider '\(provider)' needs the field '\(field)'"
                )
            }
            return value
        }

        /// `path` as an absolute path: relative paths are resolved against the file's folder.
        public func resolved(_ path: String) -> String {
            path.hasPrefix("/") ? path : URL(fileURLWithPath: folder).appendingPathComponent(path).path
        }
    }

    /// Reads the file and builds every provider, so that a mistake (a missing field, an unknown
    /// provider, unreadable credentials) stops `vault serve` at start or is refused on SIGHUP.
    /// - Parameters:
    ///   - cacheTTL: how long the unwrapped data keys of network providers stay cached
    ///     (``CachingCustomerKeyProvider``); zero disables the cache. The `file` provider reads its
    ///     key on every use and is never cached.
    ///   - environment: where the providers' credential chains look (the process's by default).
    /// - Throws: ``LocalVaultError`` naming the problem (never a secret).
    public static func load(
        file path: String,
        cacheTTL: Duration = .zero,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> [CustomerKeyMapping] {
        struct File: Decodable { var customer_keys: [Entry] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LocalVaultError(.internalError, "cannot read the customer key configuration at \(path)")
        }
        let file: File
        do {
            try refuseInlineSecrets(data)
            file = try JSONDecoder().decode(File.self, from: data)
        } catch let error as LocalVaultError {
            throw LocalVaultError(error.kind, "the customer key configuration at \(path): \(error.message)")
        } catch {
            throw LocalVaultError(.internalError, "the customer key configuration at \(path) is not valid: \(error)")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try file.customer_keys.map { entry in
            var entry = entry
            entry.folder = folder
            var provider = try makeProvider(entry, environment: environment)
            if entry.provider != "file", cacheTTL > .zero {
                provider = CachingCustomerKeyProvider(provider, ttl: cacheTTL)
            }
            return CustomerKeyMapping(
                contextKey: entry.context_key,
                contextValue: entry.context_value,
                keyID: entry.key_id,
                provider: provider
            )
        }
    }

    /// The provider of one entry. Add a provider here and to ``knownProviders``.
    static func makeProvider(_ entry: Entry, environment: [String: String]) throws -> any CustomerKeyProvider {
        switch entry.provider {
        case "file":
            return FileKeyProvider(keyID: entry.key_id, path: entry.resolved(try entry.required(entry.path, "path")))
        case "aws-kms":
            return try AWSKMSProvider(entry: entry, environment: environment)
        case "gcp-kms":
            return try GCPKMSProvider(entry: entry, environment: environment)
        case "azure-key-vault":
            return try AzureKeyVaultProvider(entry: entry, environment: environment)
        default:
            throw LocalVaultError(
                .internalError,
                "customer key \(entry.key_id): unknown provider '\(entry.provider)' "
                    + "(known: \(knownProviders.joined(separator: ", ")))"
            )
        }
    }

    private static func refuseInlineSecrets(_ data: Data) throws {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let entries = object["customer_keys"] as? [[String: Any]]
        else { return }  // the typed decoding reports the shape
        for entry in entries {
            if let field = entry.keys.sorted().first(where: inlineSecretFields.contains) {
                throw LocalVaultError(
                    .internalError,
                    "customer key \(entry["key_id"] as? String ?? "?"): the field '\(field)' would hold a secret "
                        + "inline; name a file or use the provider's credential chain instead"
                )
            }
        }
    }
}
