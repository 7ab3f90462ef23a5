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
    /// - Throws: ``LocalVaultError/Kind-swift.enum/insufficientPermissions`` when the key cannot be
    ///   used; any other error when `wrapped` does not open with `associatedData` (altered, or
    ///   issued in another environment), which the vault answers as foreign keys (400).
    func unwrap(_ wrapped: [UInt8], associatedData: [UInt8]) async throws -> DataKey
    /// The cloud key service the key lives in, as Vault events name it (`key_provider`); nil for
    /// a key kept elsewhere, such as ``FileKeyProvider``'s.
    var keyService: VaultKeyProvider? { get }
}

extension CustomerKeyProvider {
    /// None: only the cloud key services' providers name one.
    public var keyService: VaultKeyProvider? { nil }
}

/// A customer-managed key that stands in for the KEK of one context pair: every operation whose
/// context holds `contextKey = contextValue` wraps its data key under this key instead of a
/// Vault-managed KEK. `CustomerKeyConfiguration.load(file:)` (module CustomerKeyProviders) reads
/// them from the BYOK file.
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
}

/// A customer-managed key kept in a file (the raw 32 bytes, or their base64). The file is read
/// on every use, so taking the service's access away (removing the file or its permissions)
/// takes effect at once, as revoking a grant in a cloud KMS would.
///
/// The read runs on a thread of its own with a deadline (``readTimeout``), so a slow or hung file
/// system never stalls the caller's executor; a key file that is not a regular file (a FIFO, a
/// device) or does not answer in time makes the key unusable (403).
public struct FileKeyProvider: CustomerKeyProvider {
    /// How long a read of the key file may take by default.
    public static let defaultReadTimeout: Duration = .seconds(5)

    public let keyID: String
    public let path: String
    /// How long a read of the key file may take before the key counts as unusable.
    public let readTimeout: Duration

    public init(keyID: String, path: String, readTimeout: Duration = Self.defaultReadTimeout) {
        self.keyID = keyID
        self.path = path
        self.readTimeout = readTimeout
    }

    public func wrap(_ key: DataKey, associatedData: [UInt8]) async throws -> [UInt8] {
        try await loadKey().wrap(key, associatedData: associatedData)
    }

    public func unwrap(_ wrapped: [UInt8], associatedData: [UInt8]) async throws -> DataKey {
        let customerKey = try await loadKey()
        do {
            return try customerKey.unwrap(wrapped[...], associatedData: associatedData)
        } catch {
            // Altered, wrapped under another key, or issued in another environment: the same
            // answer as any foreign blob.
            throw LocalVaultError.foreignKeys
        }
    }

    private func loadKey() async throws -> DataKey {
        let path = path
        do {
            return try await OffloadedFileRead.run(timeout: readTimeout) { try KeyFile.load(path: path) }
        } catch is OffloadedFileRead.TimedOut {
            throw LocalVaultError(
                .insufficientPermissions,
                "insufficient permissions to use the customer-managed key \(keyID): its key file was not read within \(readTimeout)"
            )
        } catch {
            throw LocalVaultError(
                .insufficientPermissions,
                "insufficient permissions to use the customer-managed key \(keyID)"
            )
        }
    }
}
