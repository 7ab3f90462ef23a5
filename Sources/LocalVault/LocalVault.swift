import EnvelopeCrypto
import Foundation
import GRDB
import VaultAPI

/// How to open a LocalVault.
public struct LocalVaultConfiguration: Sendable {
    /// The folder holding `vault.sqlite` (and `root.key` unless the root key comes from elsewhere).
    public var dataDirectory: String
    /// Where the root key comes from.
    public var rootKey: RootKeySource
    /// Customer-managed keys (BYOK) by context pair.
    public var customerKeys: [CustomerKeyMapping]

    /// - Parameters:
    ///   - dataDirectory: created (mode 0700) if missing.
    ///   - rootKey: defaults to `VAULT_ROOT_KEY` when set, else `root.key` in `dataDirectory`.
    ///   - customerKeys: BYOK mappings; none by default.
    public init(dataDirectory: String, rootKey: RootKeySource? = nil, customerKeys: [CustomerKeyMapping] = []) {
        self.dataDirectory = dataDirectory
        self.rootKey = rootKey ?? .default(dataDirectory: dataDirectory)
        self.customerKeys = customerKeys
    }
}

/// Who is calling: the environment whose keys and objects the call sees, and the API key that
/// writes (it becomes the object's `updated_by`).
public struct VaultCaller: Sendable, Hashable {
    public var environmentID: String
    public var actor: Actor

    public init(environmentID: String, actor: Actor) {
        self.environmentID = environmentID
        self.actor = actor
    }
}

/// A data key as issued: the key, its wrapped copies and its context.
public struct IssuedDataKey: Sendable {
    public let id: String
    public let key: DataKey
    /// The `encrypted_keys` blob, opaque to clients.
    public let encryptedKeys: [UInt8]
    public let context: KeyContext

    /// The body of the `data-key` and `rekey` responses.
    public var response: DataKeyResponse {
        DataKeyResponse(
            id: id,
            dataKey: key.base64EncodedString(),
            encryptedKeys: Base64.encode(encryptedKeys),
            context: context
        )
    }
}

/// The Vault service itself, in-process: KEKs per context pair, data keys, rekey, versioned
/// encrypted objects per environment, and BYOK, stored in SQLite. `vault serve` puts it behind the
/// WorkOS REST API; the embedded resolver calls it directly.
public final class LocalVault: Sendable {
    /// The environment of API keys configured without one.
    public static let defaultEnvironmentID = "environment_local"
    /// The longest object name, in characters (see ``ObjectName`` for the whole rule).
    public static let maxNameLength = ObjectName.maxLength

    let store: VaultStore
    let rootKey: DataKey
    let volatileIdempotency: VolatileIdempotency
    private let keks: KEKRing
    private let customerKeys: [String: CustomerKeyMapping]

    /// Opens (or creates) the vault in `configuration.dataDirectory`.
    /// - Throws: ``LocalVaultError`` if the folder, root key or store cannot be opened.
    public init(configuration: LocalVaultConfiguration) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: configuration.dataDirectory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw LocalVaultError(.internalError, "cannot create the data folder \(configuration.dataDirectory)")
        }
        rootKey = try configuration.rootKey.load()
        do {
            store = try VaultStore(
                path: (configuration.dataDirectory as NSString).appendingPathComponent("vault.sqlite")
            )
        } catch {
            throw LocalVaultError(.internalError, "cannot open the store in \(configuration.dataDirectory): \(error)")
        }
        keks = KEKRing(rootKey: rootKey, store: store)
        do {
            volatileIdempotency = try VolatileIdempotency()
        } catch {
            throw LocalVaultError(.internalError, "cannot draw a random key: \(error)")
        }
        customerKeys = Dictionary(
            configuration.customerKeys.map { ("\($0.contextKey)\u{0}\($0.contextValue)", $0) },
            uniquingKeysWith: { _, last in last }
        )
    }

    // MARK: Data keys

    /// Issues a fresh data key wrapped under every KEK of `context` (POST /keys/data-key).
    /// - Throws: ``LocalVaultError`` (422 for an invalid context, 403 for an unusable customer key).
    public func createDataKey(context: KeyContext, environmentID: String) async throws -> IssuedDataKey {
        try validate(context)
        let key = try DataKey.generate()
        return try await wrap(key, id: try Identifier.random(), context: context, environmentID: environmentID)
    }

    /// Unwraps a data key from `encrypted_keys` this vault issued (POST /keys/decrypt).
    /// - Throws: ``LocalVaultError`` (400 for foreign, truncated or altered keys; 403 for an
    ///   unusable customer key).
    public func decryptDataKey(encryptedKeys: [UInt8], environmentID: String) async throws -> (id: String, key: DataKey)
    {
        guard let blob = KeysBlob(parsing: encryptedKeys) else { throw LocalVaultError.foreignKeys }
        return (blob.dataKeyID.lowercasedString, try await unwrap(blob, environmentID: environmentID))
    }

    /// Re-wraps the data key of `encryptedKeys` under `context`; the key and its id are unchanged
    /// (POST /keys/rekey).
    public func rekey(encryptedKeys: [UInt8], context: KeyContext, environmentID: String) async throws -> IssuedDataKey
    {
        try validate(context)
        guard let blob = KeysBlob(parsing: encryptedKeys) else { throw LocalVaultError.foreignKeys }
        let key = try await unwrap(blob, environmentID: environmentID)
        return try await wrap(key, id: blob.dataKeyID, context: context, environmentID: environmentID)
    }

    private func validate(_ context: KeyContext) throws {
        do {
            try context.validate()
        } catch {
            throw LocalVaultError.invalidKeyContext(error)
        }
    }

    private func wrap(
        _ key: DataKey,
        id: UUID,
        context: KeyContext,
        environmentID: String
    ) async throws -> IssuedDataKey {
        var entries: [KeysBlob.Entry] = []
        entries.reserveCapacity(context.pairs.count)
        for (contextKey, contextValue) in context.sortedPairs {
            if let customer = customerKey(contextKey: contextKey, contextValue: contextValue) {
                let associatedData = KeysBlob.associatedData(dataKeyID: id, kind: .customer, kekID: customer.keyID)
                let wrapped = try await customer.provider.wrap(key, associatedData: associatedData)
                entries.append(KeysBlob.Entry(kind: .customer, kekID: customer.keyID, wrappedKey: wrapped))
            } else {
                let name = KEKRing.Name(
                    environmentID: environmentID,
                    contextKey: contextKey,
                    contextValue: contextValue
                )
                let kek = try await keks.kek(for: name)
                let associatedData = KeysBlob.associatedData(dataKeyID: id, kind: .vault, kekID: kek.id)
                let wrapped = try kek.key.wrap(key, associatedData: associatedData)
                entries.append(KeysBlob.Entry(kind: .vault, kekID: kek.id, wrappedKey: wrapped))
            }
        }
        let blob = KeysBlob(dataKeyID: id, entries: entries)
        return IssuedDataKey(id: id.lowercasedString, key: key, encryptedKeys: blob.encoded(), context: context)
    }

    private func customerKey(contextKey: String, contextValue: String) -> CustomerKeyMapping? {
        customerKeys.isEmpty ? nil : customerKeys["\(contextKey)\u{0}\(contextValue)"]
    }

    /// Unwraps with the first entry that opens. When the blob holds a customer-key entry only
    /// customer keys are tried: revoking a customer key must make its data unreadable, so a
    /// Vault-managed KEK of another pair is no silent way around it.
    private func unwrap(_ blob: KeysBlob, environmentID: String) async throws -> DataKey {
        let customerEntries = blob.entries.filter { $0.kind == .customer }
        var lastError: any Error = LocalVaultError.foreignKeys
        for entry in customerEntries.isEmpty ? blob.entries : customerEntries {
            let associatedData = KeysBlob.associatedData(
                dataKeyID: blob.dataKeyID,
                kind: entry.kind,
                kekID: entry.kekID
            )
            do {
                switch entry.kind {
                case .vault:
                    guard let kek = try await keks.kek(id: entry.kekID, environmentID: environmentID) else { continue }
                    return try kek.key.unwrap(entry.wrappedKey[...], associatedData: associatedData)
                case .customer:
                    guard let customer = customerKeys.values.first(where: { $0.keyID == entry.kekID }) else {
                        lastError = LocalVaultError(
                            .insufficientPermissions,
                            "insufficient permissions to use the customer-managed key these keys were wrapped under"
                        )
                        continue
                    }
                    return try await customer.provider.unwrap(entry.wrappedKey, associatedData: associatedData)
                }
            } catch let error as LocalVaultError {
                lastError = error
            } catch {
                lastError = LocalVaultError.foreignKeys
            }
        }
        throw lastError
    }
}
