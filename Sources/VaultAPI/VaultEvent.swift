import Foundation

/// The Vault event types of the WorkOS Events API (VAULT-API.md section 6), as the official SDKs
/// model them.
public enum VaultEventType: String, Codable, Sendable, Hashable, CaseIterable {
    case dataCreated = "vault.data.created"
    case dataUpdated = "vault.data.updated"
    case dataRead = "vault.data.read"
    case dataDeleted = "vault.data.deleted"
    case metadataRead = "vault.metadata.read"
    case namesListed = "vault.names.listed"
    case kekCreated = "vault.kek.created"
    case kekDeleted = "vault.kek.deleted"
    /// A data key issued (`POST /keys/data-key`).
    case dekRead = "vault.dek.read"
    case dekDecrypted = "vault.dek.decrypted"
    case dekRekeyed = "vault.dek.rekeyed"
    /// Emitted by the customer-key (BYOK) providers.
    case byokKeyVerificationCompleted = "vault.byok_key.verification_completed"
    /// Emitted by the customer-key (BYOK) providers.
    case byokKeyDeleted = "vault.byok_key.deleted"
}

/// The key services a customer-managed key (BYOK) lives in, as the events name them.
public enum VaultKeyProvider: String, Codable, Sendable, Hashable, CaseIterable {
    case awsKMS = "AWS_KMS"
    case gcpKMS = "GCP_KMS"
    case azureKeyVault = "AZURE_KEY_VAULT"
}

/// The `data` of a Vault event: the fields its type has (see ``VaultEventType``), the others nil
/// and left out of the JSON. Never a value, plaintext, data key or wrapped key.
public struct VaultEventData: Codable, Sendable, Hashable {
    /// The API key's id.
    public var actorID: String?
    /// `"api"` for calls made with an API key.
    public var actorSource: String?
    /// The API key's redacted name, as in `updated_by`.
    public var actorName: String?
    /// The object's name.
    public var kvName: String?
    /// The data key id (of an object's current version, or of a data key).
    public var keyID: String?
    /// The data key ids of a data-key or rekey call.
    public var keyIDs: [String]?
    public var keyContext: KeyContext?
    /// A KEK's name: its context pair, `key:value`.
    public var keyName: String?
    public var organizationID: String?
    public var keyProvider: VaultKeyProvider?
    public var verified: Bool?

    public init(
        actor: VaultActor? = nil,
        kvName: String? = nil,
        keyID: String? = nil,
        keyIDs: [String]? = nil,
        keyContext: KeyContext? = nil,
        keyName: String? = nil,
        organizationID: String? = nil,
        keyProvider: VaultKeyProvider? = nil,
        verified: Bool? = nil
    ) {
        actorID = actor?.id
        actorSource = actor == nil ? nil : Self.apiSource
        actorName = actor?.name
        self.kvName = kvName
        self.keyID = keyID
        self.keyIDs = keyIDs
        self.keyContext = keyContext
        self.keyName = keyName
        self.organizationID = organizationID
        self.keyProvider = keyProvider
        self.verified = verified
    }

    /// The `actor_source` of calls made with an API key.
    public static let apiSource = "api"

    enum CodingKeys: String, CodingKey {
        case actorID = "actor_id"
        case actorSource = "actor_source"
        case actorName = "actor_name"
        case kvName = "kv_name"
        case keyID = "key_id"
        case keyIDs = "key_ids"
        case keyContext = "key_context"
        case keyName = "key_name"
        case organizationID = "organization_id"
        case keyProvider = "key_provider"
        case verified
    }
}

/// An event of `GET /events`: `{"object": "event", "id", "event", "data", "created_at"}`.
public struct VaultEvent: Codable, Sendable, Hashable {
    public var object: String
    /// `event_` and a ULID-like unique suffix.
    public var id: String
    public var event: VaultEventType
    public var data: VaultEventData
    public var createdAt: Date

    public init(id: String, event: VaultEventType, data: VaultEventData, createdAt: Date) {
        object = "event"
        self.id = id
        self.event = event
        self.data = data
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case object, id, event, data
        case createdAt = "created_at"
    }
}

/// A page of `GET /events`: `{"object": "list", "data", "list_metadata"}`.
public struct EventList: Codable, Sendable, Hashable {
    public var object: String
    public var data: [VaultEvent]
    public var listMetadata: ListMetadata

    public init(data: [VaultEvent], listMetadata: ListMetadata) {
        object = "list"
        self.data = data
        self.listMetadata = listMetadata
    }

    enum CodingKeys: String, CodingKey {
        case object, data
        case listMetadata = "list_metadata"
    }
}

/// The parameters of `GET /events`.
public struct EventListQuery: Sendable, Hashable {
    /// The most events a page holds.
    public static let maxLimit = 100

    /// The types to list (required, at least one).
    public var events: Set<VaultEventType>
    public var limit: Int
    /// Event ids from a previous page's `list_metadata`.
    public var before: String?
    public var after: String?
    /// Newest first by default, as the WorkOS API.
    public var order: ListOrder
    /// Only events created at or after this instant.
    public var rangeStart: Date?
    /// Only events created before this instant.
    public var rangeEnd: Date?
    /// Only events whose key context holds this `organization_id`.
    public var organizationID: String?

    public init(
        events: Set<VaultEventType>,
        limit: Int = 10,
        before: String? = nil,
        after: String? = nil,
        order: ListOrder = .descending,
        rangeStart: Date? = nil,
        rangeEnd: Date? = nil,
        organizationID: String? = nil
    ) {
        self.events = events
        self.limit = limit
        self.before = before
        self.after = after
        self.order = order
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.organizationID = organizationID
    }
}
