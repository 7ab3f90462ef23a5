import Foundation

// The JSON bodies of the Vault REST API (VAULT-API.md section 2), shared by the client and the
// server so both are held to one definition. Field names are spelled out in `CodingKeys` rather
// than through a snake-case strategy, which would also rewrite the keys of a key context.

/// `POST /vault/v1/keys/data-key` request.
public struct CreateDataKeyRequest: Codable, Sendable, Hashable {
    public var context: KeyContext
    public init(context: KeyContext) { self.context = context }
}

/// `POST /vault/v1/keys/data-key` and `/keys/rekey` response: a data key and its wrapped copies.
public struct DataKeyResponse: Codable, Sendable, Hashable {
    /// The data key's id.
    public var id: String
    /// The 32-byte AES key, base64. A secret: never log it.
    public var dataKey: String
    /// The wrapped copies of the key (base64), opaque to clients.
    public var encryptedKeys: String
    public var context: KeyContext

    public init(id: String, dataKey: String, encryptedKeys: String, context: KeyContext) {
        self.id = id
        self.dataKey = dataKey
        self.encryptedKeys = encryptedKeys
        self.context = context
    }

    enum CodingKeys: String, CodingKey {
        case id
        case dataKey = "data_key"
        case encryptedKeys = "encrypted_keys"
        case context
    }
}

/// `POST /vault/v1/keys/decrypt` request.
public struct DecryptDataKeyRequest: Codable, Sendable, Hashable {
    /// The `encrypted_keys` of a data key, base64.
    public var keys: String
    public init(keys: String) { self.keys = keys }
}

/// `POST /vault/v1/keys/decrypt` response.
public struct DecryptDataKeyResponse: Codable, Sendable, Hashable {
    public var id: String
    /// The 32-byte AES key, base64. A secret: never log it.
    public var dataKey: String

    public init(id: String, dataKey: String) {
        self.id = id
        self.dataKey = dataKey
    }

    enum CodingKeys: String, CodingKey {
        case id
        case dataKey = "data_key"
    }
}

/// `POST /vault/v1/keys/rekey` request.
public struct RekeyRequest: Codable, Sendable, Hashable {
    public var context: KeyContext
    public var encryptedKeys: String

    public init(context: KeyContext, encryptedKeys: String) {
        self.context = context
        self.encryptedKeys = encryptedKeys
    }

    enum CodingKeys: String, CodingKey {
        case context
        case encryptedKeys = "encrypted_keys"
    }
}

/// `POST /vault/v1/kv` request.
public struct CreateObjectRequest: Codable, Sendable, Hashable {
    public var name: String
    public var value: String
    public var keyContext: KeyContext

    public init(name: String, value: String, keyContext: KeyContext) {
        self.name = name
        self.value = value
        self.keyContext = keyContext
    }

    enum CodingKeys: String, CodingKey {
        case name
        case value
        case keyContext = "key_context"
    }
}

/// `PUT /vault/v1/kv/{id}` request.
public struct UpdateObjectRequest: Codable, Sendable, Hashable {
    public var value: String
    /// The version id the caller last saw; the update fails with 409 if it is no longer current.
    public var versionCheck: String?
    /// The version number the caller last saw (``ObjectMetadata/version``); the update fails with
    /// the same 409 as `version_check` if it is no longer current. This project's extension of the
    /// WorkOS API, sent as `expected_version` only when set.
    public var expectedVersion: Int?

    public init(value: String, versionCheck: String? = nil, expectedVersion: Int? = nil) {
        self.value = value
        self.versionCheck = versionCheck
        self.expectedVersion = expectedVersion
    }

    enum CodingKeys: String, CodingKey {
        case value
        case versionCheck = "version_check"
        case expectedVersion = "expected_version"
    }
}

/// Who last wrote an object: the API key (or user) id and name.
public struct VaultActor: Codable, Sendable, Hashable {
    public var id: String
    public var name: String

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// An object's metadata.
public struct ObjectMetadata: Codable, Sendable, Hashable {
    public var id: String
    public var environmentID: String
    public var keyID: String
    public var updatedAt: Date
    public var updatedBy: VaultActor
    public var context: KeyContext
    public var versionID: String?
    /// The version's number: 1 at creation, one more with each update. This project's extension
    /// of the WorkOS API, which does not send it (nil then).
    public var version: Int?

    public init(
        id: String,
        environmentID: String,
        keyID: String,
        updatedAt: Date,
        updatedBy: VaultActor,
        context: KeyContext,
        versionID: String?,
        version: Int? = nil
    ) {
        self.id = id
        self.environmentID = environmentID
        self.keyID = keyID
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
        self.context = context
        self.versionID = versionID
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case id
        case environmentID = "environment_id"
        case keyID = "key_id"
        case updatedAt = "updated_at"
        case updatedBy = "updated_by"
        case context
        case versionID = "version_id"
        case version
    }

    public func encode(to encoder: any Encoder) throws {
        // `version_id` is always present, as null when there is none.
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(environmentID, forKey: .environmentID)
        try container.encode(keyID, forKey: .keyID)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(updatedBy, forKey: .updatedBy)
        try container.encode(context, forKey: .context)
        try container.encode(versionID, forKey: .versionID)
        try container.encodeIfPresent(version, forKey: .version)
    }
}

/// An object with its decrypted value (`GET /kv/{id}`, `GET /kv/name/{name}`).
public struct VaultObject: Codable, Sendable, Hashable, CustomStringConvertible {
    public var id: String
    public var name: String
    /// The decrypted value. A secret: ``description`` leaves it out.
    public var value: String
    public var metadata: ObjectMetadata

    public init(id: String, name: String, value: String, metadata: ObjectMetadata) {
        self.id = id
        self.name = name
        self.value = value
        self.metadata = metadata
    }

    public var description: String { "VaultObject(id: \(id), name: \(name), value: redacted)" }
}

/// An object without its value (`PUT /kv/{id}`, `GET /kv/{id}/metadata`).
public struct ObjectWithoutValue: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var metadata: ObjectMetadata

    public init(id: String, name: String, metadata: ObjectMetadata) {
        self.id = id
        self.name = name
        self.metadata = metadata
    }
}

/// One entry of `GET /kv`.
public struct ObjectSummary: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var updatedAt: Date

    public init(id: String, name: String, updatedAt: Date) {
        self.id = id
        self.name = name
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id
        case name
        case updatedAt = "updated_at"
    }
}

/// One entry of `GET /kv/{id}/versions`.
public struct ObjectVersion: Codable, Sendable, Hashable {
    public var id: String
    public var createdAt: Date
    public var currentVersion: Bool
    /// The value's size in bytes (UTF-8).
    public var size: Int
    /// A hash that identifies the stored version (not a hash of the plaintext).
    public var etag: String
    /// The version's number (1 for the first). This project's extension of the WorkOS API, which
    /// does not send it (nil then).
    public var version: Int?

    public init(id: String, createdAt: Date, currentVersion: Bool, size: Int, etag: String, version: Int? = nil) {
        self.id = id
        self.createdAt = createdAt
        self.currentVersion = currentVersion
        self.size = size
        self.etag = etag
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case id
        case createdAt = "created_at"
        case currentVersion = "current_version"
        case size
        case etag
        case version
    }
}

/// Cursors of a list page. `after` is null on the last page.
public struct ListMetadata: Codable, Sendable, Hashable {
    public var before: String?
    public var after: String?

    public init(before: String?, after: String?) {
        self.before = before
        self.after = after
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(before, forKey: .before)
        try container.encode(after, forKey: .after)
    }
}

/// A page of a list endpoint.
public struct ListResponse<Item: Codable & Sendable & Hashable>: Codable, Sendable, Hashable {
    public var data: [Item]
    public var listMetadata: ListMetadata

    public init(data: [Item], listMetadata: ListMetadata) {
        self.data = data
        self.listMetadata = listMetadata
    }

    enum CodingKeys: String, CodingKey {
        case data
        case listMetadata = "list_metadata"
    }
}

/// `DELETE /vault/v1/kv/{id}` response.
public struct DeleteObjectResponse: Codable, Sendable, Hashable {
    public var success: Bool
    public var name: String

    public init(success: Bool, name: String) {
        self.success = success
        self.name = name
    }
}

/// An error body: Vault's `error` plus the `message` and `code` that other WorkOS APIs use.
public struct ErrorBody: Codable, Sendable, Hashable {
    public var error: String?
    public var message: String?
    public var code: String?

    public init(error: String?, message: String?, code: String?) {
        self.error = error
        self.message = message
        self.code = code
    }

    /// The most specific text present.
    public var text: String? { error ?? message }
}

/// The sort order of a list.
public enum ListOrder: String, Codable, Sendable, Hashable {
    case ascending = "asc"
    case descending = "desc"
}

/// The parameters of `GET /vault/v1/kv`.
public struct ListObjectsQuery: Sendable, Hashable {
    /// The default page size.
    public static let defaultLimit = 10
    /// The largest page size.
    public static let maxLimit = 100

    public var limit: Int
    public var before: String?
    public var after: String?
    public var order: ListOrder
    /// A substring of the names to match.
    public var search: String?
    /// Only objects updated after this instant.
    public var updatedAfter: Date?
    /// Only objects whose key context is exactly this one (same pairs, byte for byte). This
    /// project's extension of the WorkOS API: sent as the `key_context` query parameter.
    public var keyContext: KeyContext?

    public init(
        limit: Int = ListObjectsQuery.defaultLimit,
        before: String? = nil,
        after: String? = nil,
        order: ListOrder = .descending,
        search: String? = nil,
        updatedAfter: Date? = nil,
        keyContext: KeyContext? = nil
    ) {
        self.limit = limit
        self.before = before
        self.after = after
        self.order = order
        self.search = search
        self.updatedAfter = updatedAfter
        self.keyContext = keyContext
    }
}
