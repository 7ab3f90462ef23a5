import EnvelopeCrypto
import LocalVault
import VaultAPI

/// The Vault endpoints as plain functions of decoded request values: no HTTP in sight, so each
/// can be called (and tested) directly. ``VaultRoutes`` binds them to paths.
public struct VaultEndpoints: Sendable {
    public let vault: LocalVault

    public init(vault: LocalVault) {
        self.vault = vault
    }

    /// `POST /vault/v1/keys/data-key`.
    public func createDataKey(_ request: CreateDataKeyRequest, caller: VaultCaller) async throws -> DataKeyResponse {
        try await vault.createDataKey(context: request.context, caller: caller).response
    }

    /// `POST /vault/v1/keys/decrypt`.
    public func decryptDataKey(
        _ request: DecryptDataKeyRequest,
        caller: VaultCaller
    ) async throws
        -> DecryptDataKeyResponse
    {
        let encryptedKeys = try Self.base64(request.keys, field: "keys")
        let (id, key) = try await vault.decryptDataKey(encryptedKeys: encryptedKeys, caller: caller)
        return DecryptDataKeyResponse(id: id, dataKey: key.base64EncodedString())
    }

    /// `POST /vault/v1/keys/rekey`.
    public func rekey(_ request: RekeyRequest, caller: VaultCaller) async throws -> DataKeyResponse {
        let encryptedKeys = try Self.base64(request.encryptedKeys, field: "encrypted_keys")
        return try await vault.rekey(
            encryptedKeys: encryptedKeys,
            context: request.context,
            caller: caller
        ).response
    }

    /// `GET /vault/v1/kv`.
    public func listObjects(_ query: ListObjectsQuery, caller: VaultCaller) async throws -> ListResponse<ObjectSummary>
    {
        try await vault.listObjects(query, caller: caller)
    }

    /// `POST /vault/v1/kv` (201).
    public func createObject(_ request: CreateObjectRequest, caller: VaultCaller) async throws -> ObjectMetadata {
        try await vault.createObject(
            name: request.name,
            value: request.value,
            context: request.keyContext,
            caller: caller
        )
    }

    /// `GET /vault/v1/kv/{id}`. With `context` (the `key_context` parameter), only an object of
    /// exactly that context is found; any other is the same 404 as a missing one.
    public func readObject(id: String, context: KeyContext? = nil, caller: VaultCaller) async throws -> VaultObject {
        try await vault.readObject(id: id, caller: caller, context: context)
    }

    /// `GET /vault/v1/kv/name/{name}`.
    public func readObject(
        named name: String,
        context: KeyContext? = nil,
        caller: VaultCaller
    ) async throws
        -> VaultObject
    {
        try await vault.readObject(named: name, caller: caller, context: context)
    }

    /// `GET /vault/v1/kv/{id}/metadata`.
    public func describeObject(
        id: String,
        context: KeyContext? = nil,
        caller: VaultCaller
    ) async throws
        -> ObjectWithoutValue
    {
        try await vault.describeObject(id: id, caller: caller, context: context)
    }

    /// `PUT /vault/v1/kv/{id}` (201).
    public func updateObject(
        id: String,
        _ request: UpdateObjectRequest,
        context: KeyContext? = nil,
        caller: VaultCaller
    ) async throws
        -> ObjectWithoutValue
    {
        try await vault.updateObject(
            id: id,
            value: request.value,
            versionCheck: request.versionCheck,
            expectedVersion: request.expectedVersion,
            context: context,
            caller: caller
        )
    }

    /// `DELETE /vault/v1/kv/{id}`.
    public func deleteObject(
        id: String,
        versionCheck: String?,
        context: KeyContext? = nil,
        caller: VaultCaller
    ) async throws -> DeleteObjectResponse {
        try await vault.deleteObject(
            id: id,
            versionCheck: versionCheck,
            caller: caller,
            context: context
        )
    }

    /// `GET /vault/v1/kv/{id}/versions/{version}`: the object as it was at that version (its
    /// value and its own metadata). `version` is a version id or a version number.
    public func readObject(
        id: String,
        version: ObjectVersionSelector,
        context: KeyContext? = nil,
        caller: VaultCaller
    ) async throws
        -> VaultObject
    {
        try await vault.readObject(id: id, version: version, caller: caller, context: context)
    }

    /// `GET /vault/v1/kv/{id}/versions`.
    public func listVersions(
        id: String,
        context: KeyContext? = nil,
        caller: VaultCaller
    ) async throws
        -> ListResponse<ObjectVersion>
    {
        try await vault.listVersions(id: id, environmentID: caller.environmentID, context: context)
    }

    /// `GET /events`: a page of the caller's environment's events.
    public func listEvents(_ query: EventListQuery, caller: VaultCaller) async throws -> EventList {
        try await vault.listEvents(query, environmentID: caller.environmentID)
    }

    private static func base64(_ text: String, field: String) throws(APIError) -> [UInt8] {
        do {
            return try Base64.decode(text)
        } catch {
            throw APIError.badRequest("\(field) is not valid standard base64")
        }
    }
}
