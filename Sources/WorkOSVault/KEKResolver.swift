import EnvelopeCrypto
import Logging
import VaultAPI

/// A data key together with its wrapped copies, as a key service issued it.
public struct ResolvedDataKey: Sendable {
    /// The data key's id.
    public let id: String
    public let key: DataKey
    /// The wrapped copies (`encrypted_keys`), opaque.
    public let encryptedKeys: [UInt8]

    public init(id: String, key: DataKey, encryptedKeys: [UInt8]) {
        self.id = id
        self.key = key
        self.encryptedKeys = encryptedKeys
    }
}

/// Where data keys come from. Everything above it (``Vault``) is the same whether keys come from
/// WorkOS, a `vault serve` on another host, or the embedded store; a caching decorator can wrap
/// any implementation.
public protocol KEKResolver: Sendable {
    /// A fresh data key wrapped under the KEKs of `context`.
    func newDataKey(for context: KeyContext, logger: Logger?) async throws -> ResolvedDataKey
    /// The data key inside `encryptedKeys`.
    func dataKey(forEncryptedKeys encryptedKeys: [UInt8], logger: Logger?) async throws -> ResolvedDataKey
    /// The same data key re-wrapped under the KEKs of `context`.
    func rekey(encryptedKeys: [UInt8], to context: KeyContext, logger: Logger?) async throws -> ResolvedDataKey
    /// A data key to seal one message of `plaintextCount` bytes under `context`. A caching resolver
    /// may hand out a key it already holds; the default is a fresh one (``newDataKey(for:logger:)``).
    func dataKeyForEncryption(
        for context: KeyContext,
        plaintextCount: Int,
        logger: Logger?
    ) async throws
        -> ResolvedDataKey
}

extension KEKResolver {
    public func dataKeyForEncryption(
        for context: KeyContext,
        plaintextCount: Int,
        logger: Logger?
    ) async throws
        -> ResolvedDataKey
    {
        try await newDataKey(for: context, logger: logger)
    }
}

/// Keys from a Vault REST API: `POST /keys/data-key`, `/keys/decrypt` and `/keys/rekey`.
public struct RemoteKEKResolver: KEKResolver {
    let client: VaultRESTClient

    public init(client: VaultRESTClient) {
        self.client = client
    }

    public func newDataKey(for context: KeyContext, logger: Logger?) async throws -> ResolvedDataKey {
        // The hot calls skip Foundation's JSON coders (see KeyCallJSON).
        let response = try await client.send(
            .init(method: .post, segments: ["keys", "data-key"], template: "/vault/v1/keys/data-key"),
            jsonBody: KeyCallJSON.createDataKeyBody(context),
            as: DataKeyResponse.self,
            fastDecode: KeyCallJSON.dataKeyResponse,
            logger: logger
        )
        return try Self.resolved(id: response.id, dataKey: response.dataKey, encryptedKeys: response.encryptedKeys)
    }

    public func dataKey(forEncryptedKeys encryptedKeys: [UInt8], logger: Logger?) async throws -> ResolvedDataKey {
        let response = try await client.send(
            .init(method: .post, segments: ["keys", "decrypt"], template: "/vault/v1/keys/decrypt"),
            jsonBody: KeyCallJSON.decryptBody(keys: Base64.encode(encryptedKeys)),
            as: DecryptDataKeyResponse.self,
            fastDecode: KeyCallJSON.decryptDataKeyResponse,
            logger: logger
        )
        let key = try Self.decodeKey(response.dataKey)
        return ResolvedDataKey(id: response.id, key: key, encryptedKeys: encryptedKeys)
    }

    public func rekey(encryptedKeys: [UInt8], to context: KeyContext, logger: Logger?) async throws -> ResolvedDataKey {
        let response = try await client.send(
            .init(method: .post, segments: ["keys", "rekey"], template: "/vault/v1/keys/rekey"),
            body: RekeyRequest(context: context, encryptedKeys: Base64.encode(encryptedKeys)),
            as: DataKeyResponse.self,
            logger: logger
        )
        return try Self.resolved(id: response.id, dataKey: response.dataKey, encryptedKeys: response.encryptedKeys)
    }

    static func resolved(id: String, dataKey: String, encryptedKeys: String) throws -> ResolvedDataKey {
        let key = try decodeKey(dataKey)
        guard let keys = try? Base64.decode(encryptedKeys), !keys.isEmpty else {
            throw VaultError(.invalidResponse, "the server sent encrypted_keys that are not base64")
        }
        return ResolvedDataKey(id: id, key: key, encryptedKeys: keys)
    }

    static func decodeKey(_ text: String) throws -> DataKey {
        guard let key = try? DataKey(base64Encoded: text) else {
            throw VaultError(.invalidResponse, "the server sent a data_key that is not 32 bytes of base64")
        }
        return key
    }
}
