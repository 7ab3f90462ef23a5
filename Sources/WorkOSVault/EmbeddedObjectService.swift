#if EmbeddedStore
import Foundation
import LocalVault
import Logging
import VaultAPI

/// Objects in the embedded LocalVault engine, written as `caller`.
public struct EmbeddedObjectService: VaultObjectService {
    let vault: LocalVault
    let caller: VaultCaller

    /// The actor that embedded writes are recorded under.
    public static let embeddedActor = VaultActor(id: "embedded", name: "embedded client")

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

    public func readObject(id: String, context: KeyContext?, logger: Logger?) async throws -> VaultObject {
        try await embedded { try await vault.readObject(id: id, environmentID: caller.environmentID, context: context) }
    }

    public func readObject(named name: String, context: KeyContext?, logger: Logger?) async throws -> VaultObject {
        try await embedded {
            try await vault.readObject(named: name, environmentID: caller.environmentID, context: context)
        }
    }

    public func readObject(
        id: String,
        version: ObjectVersionSelector,
        context: KeyContext?,
        logger: Logger?
    ) async throws
        -> VaultObject
    {
        try await embedded {
            try await vault.readObject(id: id, version: version, environmentID: caller.environmentID, context: context)
        }
    }

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
        try await embedded {
            try await vault.updateObject(
                id: id,
                value: value,
                versionCheck: versionCheck,
                expectedVersion: expectedVersion,
                context: context,
                caller: caller
            )
        }
    }

    public func deleteObject(
        id: String,
        versionCheck: String?,
        context: KeyContext?,
        logger: Logger?
    ) async throws
        -> DeleteObjectResponse
    {
        try await embedded {
            try await vault.deleteObject(
                id: id,
                versionCheck: versionCheck,
                environmentID: caller.environmentID,
                context: context
            )
        }
    }

    public func describeObject(id: String, context: KeyContext?, logger: Logger?) async throws -> ObjectWithoutValue {
        try await embedded {
            try await vault.describeObject(id: id, environmentID: caller.environmentID, context: context)
        }
    }

    public func listVersions(
        id: String,
        context: KeyContext?,
        logger: Logger?
    ) async throws
        -> ListResponse<ObjectVersion>
    {
        try await embedded {
            try await vault.listVersions(id: id, environmentID: caller.environmentID, context: context)
        }
    }

    public func listObjects(_ query: ListObjectsQuery, logger: Logger?) async throws -> ListResponse<ObjectSummary> {
        try await embedded { try await vault.listObjects(query, environmentID: caller.environmentID) }
    }
}
#endif
