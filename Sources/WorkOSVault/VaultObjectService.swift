import Foundation
import LocalVault
import Logging
import VaultAPI

/// The object API of a Vault backend: named, versioned, encrypted values stored by the service.
public protocol VaultObjectService: Sendable {
    func createObject(name: String, value: String, context: KeyContext, logger: Logger?) async throws -> ObjectMetadata
    func readObject(id: String, logger: Logger?) async throws -> VaultObject
    func readObject(named name: String, logger: Logger?) async throws -> VaultObject
    func updateObject(
        id: String,
        value: String,
        versionCheck: String?,
        logger: Logger?
    ) async throws
        -> ObjectWithoutValue
    func deleteObject(id: String, versionCheck: String?, logger: Logger?) async throws -> DeleteObjectResponse
    func describeObject(id: String, logger: Logger?) async throws -> ObjectWithoutValue
    func listVersions(id: String, logger: Logger?) async throws -> ListResponse<ObjectVersion>
    func listObjects(_ query: ListObjectsQuery, logger: Logger?) async throws -> ListResponse<ObjectSummary>
}

/// Objects over the REST API.
extension VaultRESTClient: VaultObjectService {
    public func createObject(
        name: String,
        value: String,
        context: KeyContext,
        logger: Logger?
    ) async throws
        -> ObjectMetadata
    {
        try await send(
            .init(method: "POST", segments: ["kv"], template: "/vault/v1/kv"),
            body: CreateObjectRequest(name: name, value: value, keyContext: context),
            as: ObjectMetadata.self,
            logger: logger
        )
    }

    public func readObject(id: String, logger: Logger?) async throws -> VaultObject {
        try await send(
            .init(method: "GET", segments: ["kv", id], template: "/vault/v1/kv/{id}"),
            body: nil as Empty?,
            as: VaultObject.self,
            logger: logger
        )
    }

    public func readObject(named name: String, logger: Logger?) async throws -> VaultObject {
        try await send(
            .init(method: "GET", segments: ["kv", "name", name], template: "/vault/v1/kv/name/{name}"),
            body: nil as Empty?,
            as: VaultObject.self,
            logger: logger
        )
    }

    public func updateObject(
        id: String,
        value: String,
        versionCheck: String?,
        logger: Logger?
    ) async throws
        -> ObjectWithoutValue
    {
        try await send(
            .init(method: "PUT", segments: ["kv", id], template: "/vault/v1/kv/{id}"),
            body: UpdateObjectRequest(value: value, versionCheck: versionCheck),
            as: ObjectWithoutValue.self,
            logger: logger
        )
    }

    public func deleteObject(id: String, versionCheck: String?, logger: Logger?) async throws -> DeleteObjectResponse {
        let endpoint = Endpoint(
            method: "DELETE",
            segments: ["kv", id],
            template: "/vault/v1/kv/{id}",
            query: versionCheck.map { [("version_check", $0)] } ?? []
        )
        let response = try await exchange(endpoint, body: nil as Empty?, logger: logger)
        // WorkOS answers 200 with a body; some servers answer 204 without one.
        if response.body.isEmpty { return DeleteObjectResponse(success: true, name: "") }
        guard let decoded = try? VaultJSON.sharedDecoder.decode(DeleteObjectResponse.self, from: Data(response.body))
        else {
            throw VaultError(.invalidResponse, "the response to DELETE /vault/v1/kv/{id} is not the expected JSON")
        }
        return decoded
    }

    public func describeObject(id: String, logger: Logger?) async throws -> ObjectWithoutValue {
        try await send(
            .init(method: "GET", segments: ["kv", id, "metadata"], template: "/vault/v1/kv/{id}/metadata"),
            body: nil as Empty?,
            as: ObjectWithoutValue.self,
            logger: logger
        )
    }

    public func listVersions(id: String, logger: Logger?) async throws -> ListResponse<ObjectVersion> {
        try await send(
            .init(method: "GET", segments: ["kv", id, "versions"], template: "/vault/v1/kv/{id}/versions"),
            body: nil as Empty?,
            as: ListResponse<ObjectVersion>.self,
            logger: logger
        )
    }

    public func listObjects(_ query: ListObjectsQuery, logger: Logger?) async throws -> ListResponse<ObjectSummary> {
        var parameters = [("limit", "\(query.limit)"), ("order", query.order.rawValue)]
        if let before = query.before { parameters.append(("before", before)) }
        if let after = query.after { parameters.append(("after", after)) }
        if let search = query.search { parameters.append(("search", search)) }
        if let updatedAfter = query.updatedAfter {
            parameters.append(("updated_after", VaultJSON.formatISO8601(updatedAfter)))
        }
        return try await send(
            .init(method: "GET", segments: ["kv"], template: "/vault/v1/kv", query: parameters),
            body: nil as Empty?,
            as: ListResponse<ObjectSummary>.self,
            logger: logger
        )
    }
}

/// A request without a body.
struct Empty: Codable, Sendable {}

/// Objects in the embedded LocalVault engine, written as `caller`.
public struct EmbeddedObjectService: VaultObjectService {
    let vault: LocalVault
    let caller: VaultCaller

    /// The actor that embedded writes are recorded under.
    public static let embeddedActor = Actor(id: "embedded", name: "embedded client")

    public init(
        vault: LocalVault,
        caller: VaultCaller = VaultCaller(environmentID: LocalVault.defaultEnvironmentID, actor: embeddedActor)
    ) {
        self.vault = vault
        self.caller = caller
    }

    public func createObject(
        name: String,
        value: String,
        context: KeyContext,
        logger: Logger?
    ) async throws
        -> ObjectMetadata
    {
        try await embedded { try await vault.createObject(name: name, value: value, context: context, caller: caller) }
    }

    public func readObject(id: String, logger: Logger?) async throws -> VaultObject {
        try await embedded { try await vault.readObject(id: id, environmentID: caller.environmentID) }
    }

    public func readObject(named name: String, logger: Logger?) async throws -> VaultObject {
        try await embedded { try await vault.readObject(named: name, environmentID: caller.environmentID) }
    }

    public func updateObject(
        id: String,
        value: String,
        versionCheck: String?,
        logger: Logger?
    ) async throws
        -> ObjectWithoutValue
    {
        try await embedded {
            try await vault.updateObject(id: id, value: value, versionCheck: versionCheck, caller: caller)
        }
    }

    public func deleteObject(id: String, versionCheck: String?, logger: Logger?) async throws -> DeleteObjectResponse {
        try await embedded {
            try await vault.deleteObject(id: id, versionCheck: versionCheck, environmentID: caller.environmentID)
        }
    }

    public func describeObject(id: String, logger: Logger?) async throws -> ObjectWithoutValue {
        try await embedded { try await vault.describeObject(id: id, environmentID: caller.environmentID) }
    }

    public func listVersions(id: String, logger: Logger?) async throws -> ListResponse<ObjectVersion> {
        try await embedded { try await vault.listVersions(id: id, environmentID: caller.environmentID) }
    }

    public func listObjects(_ query: ListObjectsQuery, logger: Logger?) async throws -> ListResponse<ObjectSummary> {
        try await embedded { try await vault.listObjects(query, environmentID: caller.environmentID) }
    }
}
