import Foundation
import Logging
import VaultAPI

/// The object API of a Vault backend: named, versioned, encrypted values stored by the service.
///
/// Every call that finds an object takes an optional key context: when given, the object is found
/// only if its context holds exactly these pairs, byte for byte, and any other object is the same
/// ``VaultError/Code-swift.struct/notFound`` as a missing one (this project's extension of the
/// WorkOS API).
public protocol VaultObjectService: Sendable {
    func createObject(name: String, value: String, context: KeyContext, logger: Logger?) async throws -> ObjectMetadata
    func readObject(id: String, context: KeyContext?, logger: Logger?) async throws -> VaultObject
    func readObject(named name: String, context: KeyContext?, logger: Logger?) async throws -> VaultObject
    /// The object as it was at `version`: that version's value and its own metadata.
    func readObject(
        id: String,
        version: ObjectVersionSelector,
        context: KeyContext?,
        logger: Logger?
    ) async throws
        -> VaultObject
    /// A new version; with `versionCheck` (an id) or `expectedVersion` (a number), only if that
    /// is the current version.
    func updateObject(
        id: String,
        value: String,
        versionCheck: String?,
        expectedVersion: Int?,
        context: KeyContext?,
        logger: Logger?
    ) async throws
        -> ObjectWithoutValue
    func deleteObject(
        id: String,
        versionCheck: String?,
        context: KeyContext?,
        logger: Logger?
    ) async throws
        -> DeleteObjectResponse
    func describeObject(id: String, context: KeyContext?, logger: Logger?) async throws -> ObjectWithoutValue
    func listVersions(id: String, context: KeyContext?, logger: Logger?) async throws -> ListResponse<ObjectVersion>
    /// A page of objects; with `ListObjectsQuery.keyContext`, only those of exactly that context.
    func listObjects(_ query: ListObjectsQuery, logger: Logger?) async throws -> ListResponse<ObjectSummary>
}

/// The calls without a key context, as before contexts could be given.
extension VaultObjectService {
    public func readObject(id: String, logger: Logger?) async throws -> VaultObject {
        try await readObject(id: id, context: nil, logger: logger)
    }

    public func readObject(named name: String, logger: Logger?) async throws -> VaultObject {
        try await readObject(named: name, context: nil, logger: logger)
    }

    public func updateObject(
        id: String,
        value: String,
        versionCheck: String?,
        logger: Logger?
    ) async throws
        -> ObjectWithoutValue
    {
        try await updateObject(
            id: id,
            value: value,
            versionCheck: versionCheck,
            expectedVersion: nil,
            context: nil,
            logger: logger
        )
    }

    public func deleteObject(id: String, versionCheck: String?, logger: Logger?) async throws -> DeleteObjectResponse {
        try await deleteObject(id: id, versionCheck: versionCheck, context: nil, logger: logger)
    }

    public func describeObject(id: String, logger: Logger?) async throws -> ObjectWithoutValue {
        try await describeObject(id: id, context: nil, logger: logger)
    }

    public func listVersions(id: String, logger: Logger?) async throws -> ListResponse<ObjectVersion> {
        try await listVersions(id: id, context: nil, logger: logger)
    }
}

/// Objects over the REST API.
///
/// A key context is sent as the `key_context` query parameter, which `vault serve` applies. The
/// WorkOS API ignores it, so the client also checks each returned object's context itself and
/// discards an object of another context (its value included) as not found. Calls whose answer
/// carries no context (update, delete, versions) first describe the object under the context:
/// an object's context never changes, so the check holds for the call that follows.
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
            .init(method: .post, segments: ["kv"], template: "/vault/v1/kv"),
            body: CreateObjectRequest(name: name, value: value, keyContext: context),
            as: ObjectMetadata.self,
            logger: logger
        )
    }

    public func readObject(id: String, context: KeyContext?, logger: Logger?) async throws -> VaultObject {
        let endpoint = Endpoint(
            method: .get,
            segments: ["kv", id],
            template: "/vault/v1/kv/{id}",
            query: Self.contextQuery(context)
        )
        return try await readObject(at: endpoint, context: context, logger: logger)
    }

    public func readObject(named name: String, context: KeyContext?, logger: Logger?) async throws -> VaultObject {
        let endpoint = Endpoint(
            method: .get,
            segments: ["kv", "name", name],
            template: "/vault/v1/kv/name/{name}",
            query: Self.contextQuery(context)
        )
        return try await readObject(at: endpoint, context: context, logger: logger)
    }

    public func readObject(
        id: String,
        version: ObjectVersionSelector,
        context: KeyContext?,
        logger: Logger?
    ) async throws
        -> VaultObject
    {
        let endpoint = Endpoint(
            method: .get,
            segments: ["kv", id, "versions", version.pathSegment],
            template: "/vault/v1/kv/{id}/versions/{version}",
            query: Self.contextQuery(context)
        )
        return try await readObject(at: endpoint, context: context, logger: logger)
    }

    /// Reads an object and, when a context is given, discards it as not found unless its context is
    /// exactly that one (a server that ignores `key_context` returns it regardless).
    private func readObject(at endpoint: Endpoint, context: KeyContext?, logger: Logger?) async throws -> VaultObject {
        let object = try await send(endpoint, body: nil as Empty?, as: VaultObject.self, logger: logger)
        try Self.require(context, matches: object.metadata.context, endpoint: endpoint)
        return object
    }

    /// With `expectedVersion`, the object is described first and the number turned into the version
    /// id it names, sent as `version_check` as well: the update stays one conditional write on
    /// the server even where the server does not know version numbers.
    public func updateObject(
        id: String,
        value: String,
        versionCheck: String?,
        expectedVersion: Int?,
        context: KeyContext?,
        logger: Logger?
    ) async throws
        -> ObjectWithoutValue
    {
        var versionCheck = versionCheck
        if context != nil || expectedVersion != nil {
            let described = try await describeObject(id: id, context: context, logger: logger)
            if let expectedVersion {
                guard let current = described.metadata.version else {
                    throw VaultError(
                        .badRequest,
                        "PUT /vault/v1/kv/{id}: the server does not report version numbers; give a version id instead"
                    )
                }
                guard current == expectedVersion, versionCheck == nil || versionCheck == described.metadata.versionID
                else {
                    throw VaultError(
                        .versionConflict,
                        "PUT /vault/v1/kv/{id}: expected_version does not match the current version",
                        httpStatus: 409
                    )
                }
                versionCheck = described.metadata.versionID
            }
        }
        let endpoint = Endpoint(
            method: .put,
            segments: ["kv", id],
            template: "/vault/v1/kv/{id}",
            query: Self.contextQuery(context)
        )
        return try await send(
            endpoint,
            body: UpdateObjectRequest(value: value, versionCheck: versionCheck, expectedVersion: expectedVersion),
            as: ObjectWithoutValue.self,
            logger: logger
        )
    }

    public func deleteObject(
        id: String,
        versionCheck: String?,
        context: KeyContext?,
        logger: Logger?
    ) async throws
        -> DeleteObjectResponse
    {
        if context != nil { _ = try await describeObject(id: id, context: context, logger: logger) }
        let endpoint = Endpoint(
            method: .delete,
            segments: ["kv", id],
            template: "/vault/v1/kv/{id}",
            query: (versionCheck.map { [("version_check", $0)] } ?? []) + Self.contextQuery(context)
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

    public func describeObject(id: String, context: KeyContext?, logger: Logger?) async throws -> ObjectWithoutValue {
        let endpoint = Endpoint(
            method: .get,
            segments: ["kv", id, "metadata"],
            template: "/vault/v1/kv/{id}/metadata",
            query: Self.contextQuery(context)
        )
        let described = try await send(endpoint, body: nil as Empty?, as: ObjectWithoutValue.self, logger: logger)
        try Self.require(context, matches: described.metadata.context, endpoint: endpoint)
        return described
    }

    public func listVersions(
        id: String,
        context: KeyContext?,
        logger: Logger?
    ) async throws
        -> ListResponse<ObjectVersion>
    {
        if context != nil { _ = try await describeObject(id: id, context: context, logger: logger) }
        return try await send(
            .init(
                method: .get,
                segments: ["kv", id, "versions"],
                template: "/vault/v1/kv/{id}/versions",
                query: Self.contextQuery(context)
            ),
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
        parameters += Self.contextQuery(query.keyContext)
        let endpoint = Endpoint(method: .get, segments: ["kv"], template: "/vault/v1/kv", query: parameters)
        let response = try await exchange(endpoint, body: nil as Empty?, logger: logger)
        guard
            var page = try? VaultJSON.sharedDecoder.decode(ListResponse<ObjectSummary>.self, from: Data(response.body))
        else {
            throw VaultError(
                .invalidResponse,
                "the response to GET /vault/v1/kv is not the expected JSON",
                httpStatus: response.status,
                requestID: response.header("x-request-id")
            )
        }
        guard let context = query.keyContext, response.header("vault-key-context") != "exact" else { return page }
        // The server did not apply the filter (the WorkOS API does not know it): keep only the
        // objects whose context is this one. The cursors stay the server's, so paging goes on.
        var kept: [ObjectSummary] = []
        for summary in page.data {
            do {
                _ = try await describeObject(id: summary.id, context: context, logger: logger)
                kept.append(summary)
            } catch let error as VaultError where error.code == .notFound {
                continue
            }
        }
        page.data = kept
        return page
    }

    /// The `key_context` query parameter for `context`, none without one.
    static func contextQuery(_ context: KeyContext?) -> [(String, String)] {
        context.map { [("key_context", $0.canonicalJSON)] } ?? []
    }

    /// Not found, as the server answers a missing object, unless `returned` is exactly `context`.
    static func require(_ context: KeyContext?, matches returned: KeyContext, endpoint: Endpoint) throws {
        guard let context, !context.matchesExactly(returned) else { return }
        throw VaultError(.notFound, "\(endpoint.method) \(endpoint.template): object not found", httpStatus: 404)
    }
}

/// A request without a body.
struct Empty: Codable, Sendable {}
