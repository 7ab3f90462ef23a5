import EnvelopeCrypto
import Foundation
import VaultAPI

/// A source of customer-managed keys (BYOK): AWS KMS, Azure Key Vault, Google Cloud KMS, or the
/// bundled ``FileKeyProvider``. The provider wraps and unwraps data keys; the key itself may never
/// leave it.
public protocol CustomerKeyProvider: Sendable {
    /// Wraps `key` under the customer key. `associatedData` must be given again to unwrap.
    /// - Throws: ``LocalVaultError/Kind-swift.enum/insufficientPermissions`` when the key cannot be used.
    func wrap(_ key: DataKey, associatedData: [UInt8]) async throws -> [UInt8]
    /// Unwraps what ``wrap(_:associatedData:)`` returned.
    /// - Throws: ``LocalVaultError/Kind-swift.enum/insufficientPermissions`` when the key cannot be used.
    func unwrap(_ wrapped: [UInt8], associatedData: [UInt8]) async throws -> DataKey
}

/// A customer-managed key that stands in for the KEK of one context pair: every operation whose
/// context holds `contextKey = contextValue` wraps its data key under this key instead of a
/// Vault-managed KEK.
public struct CustomerKeyMapping: Sendable {
    public var contextKey: String
    public var contextValue: String
    /// A stable id, written into every `encrypted_keys` that uses the key.
    public var keyID: String
    public var provider: any CustomerKeyProvider

    public init(contextKey: String, contextValue: String, keyID: String, provider: any CustomerKeyProvider) {
        self.contextKey = contextKey
        self.contextValue = contextValue
        self.keyID = keyID
        self.provider = provider
    }

    /// Reads mappings from a JSON file:
    /// `{"customer_keys": [{"context_key": "organization_id", "context_value": "org_abc",
    ///   "key_id": "cmk_org_abc", "provider": "file", "path": "/keys/org_abc.key"}]}`.
    /// Relative paths are resolved against the file's folder.
    public static func load(configurationFile path: String) throws -> [CustomerKeyMapping] {
        struct File: Decodable {
            struct Key: Decodable {
                var context_key: String
                var context_value: String
                var key_id: String
                var provider: String
                var path: String
            }
            var customer_keys: [Key]
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LocalVaultError(.internalError, "cannot read the customer key configuration at \(path)")
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw LocalVaultError(.internalError, "the customer key configuration at \(path) is not valid: \(error)")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        return try file.customer_keys.map { key in
            guard key.provider == "file" else {
                throw LocalVaultError(.internalError, "unknown customer key provider '\(key.provider)' (known: file)")
            }
            let keyPath = key.path.hasPrefix("/") ? key.path : folder.appendingPathComponent(key.path).path
            return CustomerKeyMapping(
                contextKey: key.context_key,
                contextValue: key.context_value,
                keyID: key.key_id,
                provider: FileKeyProvider(keyID: key.key_id, path: keyPath)
            )
        }
    }
}

/// A customer-managed key kept in a file (the raw 32 bytes, or their base64). The file is read
/// on every use, so taking the service's access away (removing or replacing the file) takes
/// effect at once, as revoking a grant in a cloud KMS would.
public struct FileKeyProvider: CustomerKeyProvider {
    public let keyID: String
    public let path: String

    public init(keyID: String, path: String) {
        self.keyID = keyID
        self.path = path
    }

    public func wrap(_ key: DataKey, associatedData: [UInt8]) async throws -> [UInt8] {
        try loadKey().wrap(key, associatedData: associatedData)
    }

    public func unwrap(_ wrapped: [UInt8], associatedData: [UInt8]) async throws -> DataKey {
        let customerKey = try loadKey()
        do {
            return try customerKey.unwrap(wrapped[...], associatedData: associatedData)
        } catch {
            throw LocalVaultError(
                .insufficientPermissions,
                "the customer-managed key \(keyID) cannot unwrap this data key"
            )
        }
    }

    private func loadKey() throws -> DataKey {
        do {
            return try KeyFile.load(path: path)
        } catch {
            throw LocalVaultError(
                .insufficientPermissions,
                "insufficient permissions to use the customer-managed key \(keyID)"
            )
        }
    }
}
