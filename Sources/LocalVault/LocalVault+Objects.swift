import EnvelopeCrypto
import Foundation
import VaultAPI

/// Objects: named values, each version encrypted with its own data key under the object's key
/// context. The store holds only the sealed value (a layout-A blob whose associated data binds it
/// to its object), its size and an etag computed over the sealed bytes.
extension LocalVault {
    // MARK: Create, read, update, delete

    /// Creates an object (POST /kv).
    /// - Throws: ``LocalVaultError``: 422 for a name or context that breaks the rules (`ObjectName`,
    ///   `KeyContext`), 413 for a value over ``maxValueSize``, 409 if the name is in use, by a
    ///   live object or by a deleted one whose purge is not yet due (see
    ///   ``deleteObject(id:versionCheck:environmentID:context:)``).
    public func createObject(
        name: String,
        value: String,
        context: KeyContext,
        caller: VaultCaller
    ) async throws
        -> ObjectMetadata
    {
        do {
            try ObjectName.validate(name)
        } catch {
            throw LocalVaultError(.unprocessable, error.description)
        }
        let objectID = try Self.newID()
        let version = try await seal(value, objectID: objectID, context: context, caller: caller)
        // Stored canonical, so that a lookup by context is an equality on this column.
        let object = NewObject(
            id: objectID,
            environmentID: caller.environmentID,
            name: name,
            contextJSON: context.canonicalJSON
        )
        let events = try writeEvents(
            .dataCreated,
            VaultEventData(actor: caller.actor, kvName: name, keyID: version.dataKeyID, keyContext: context),
            caller: caller,
            organizationID: Self.organizationID(of: context)
        )
        switch try await storage.createObject(object, firstVersion: version, events: events) {
        case .created: break
        case .nameInUse: throw Self.nameInUse
        case .nameHeld(let purgeAt): throw Self.nameHeld(until: purgeAt)
        }
        return try await fetch(.id(objectID), environmentID: caller.environmentID).metadata()
    }

    /// Reads an object and decrypts its value (GET /kv/{id}).
    ///
    /// Every call that finds an object takes an optional `context`: when given, the object is
    /// found only if its key context holds exactly these pairs, byte for byte (see
    /// `KeyContext.canonicalJSON`); any other object is the same 404 as a missing one, and
    /// nothing is decrypted.
    /// - Throws: ``LocalVaultError``: 404 if there is no such live object in the environment (or
    ///   its context is not `context`), 422 for a `context` that breaks `KeyContext`'s rules.
    public func readObject(id: String, environmentID: String, context: KeyContext? = nil) async throws -> VaultObject {
        try await readObject(id: id, caller: .local(environmentID), context: context)
    }

    /// Reads an object for `caller` (GET /kv/{id}), recording `vault.data.read` before returning it.
    public func readObject(id: String, caller: VaultCaller, context: KeyContext? = nil) async throws -> VaultObject {
        try await read(.id(id), caller: caller, context: context)
    }

    /// Reads an object by name (GET /kv/name/{name}). A name that holds a control character names
    /// no object: 404.
    public func readObject(
        named name: String,
        environmentID: String,
        context: KeyContext? = nil
    ) async throws
        -> VaultObject
    {
        try await read(.name(name), caller: .local(environmentID), context: context)
    }

    /// Reads an object by name for `caller` (GET /kv/name/{name}), recording `vault.data.read`.
    public func readObject(
        named name: String,
        caller: VaultCaller,
        context: KeyContext? = nil
    ) async throws
        -> VaultObject
    {
        try await read(.name(name), caller: caller, context: context)
    }

    /// An object's metadata, without decrypting its value (GET /kv/{id}/metadata).
    public func describeObject(
        id: String,
        environmentID: String,
        context: KeyContext? = nil
    ) async throws
        -> ObjectWithoutValue
    {
        try await describeObject(id: id, caller: .local(environmentID), context: context)
    }

    /// An object's metadata for `caller` (GET /kv/{id}/metadata), recording `vault.metadata.read`.
    public func describeObject(
        id: String,
        caller: VaultCaller,
        context: KeyContext? = nil
    ) async throws
        -> ObjectWithoutValue
    {
        let object = try await fetch(.id(id), environmentID: caller.environmentID, context: context)
        let described = ObjectWithoutValue(id: object.id, name: object.name, metadata: try object.metadata())
        try await recordRead(
            .metadataRead,
            VaultEventData(actor: caller.actor, kvName: object.name),
            caller: caller,
            organizationID: Self.organizationID(of: described.metadata.context)
        )
        return described
    }

    /// Stores a new version of an object's value (PUT /kv/{id}); its number is one more than the
    /// last. With `versionCheck` (a version id) or `expectedVersion` (a version number), the
    /// update happens only if it names the current version: of several concurrent updates
    /// carrying the same check exactly one wins, the others get 409. Without, the last write wins.
    /// A value over ``maxValueSize`` is refused (413).
    public func updateObject(
        id: String,
        value: String,
        versionCheck: String?,
        expectedVersion: Int? = nil,
        context: KeyContext? = nil,
        caller: VaultCaller
    ) async throws
        -> ObjectWithoutValue
    {
        // An object's context never changes: once found under `context`, it stays so.
        let current = try await fetch(.id(id), environmentID: caller.environmentID, context: context)
        if let versionCheck, versionCheck != current.versionID { throw Self.versionConflict }
        if let expectedVersion, expectedVersion != current.versionNumber { throw Self.expectedVersionConflict }
        let objectContext = try current.context()
        let version = try await seal(value, objectID: id, context: objectContext, caller: caller)
        let events = try writeEvents(
            .dataUpdated,
            VaultEventData(
                actor: caller.actor,
                kvName: current.name,
                keyID: version.dataKeyID,
                keyContext: objectContext
            ),
            caller: caller,
            organizationID: Self.organizationID(of: objectContext)
        )
        // The storage checks again, in the statement that switches to the new version.
        let outcome = try await storage.updateObject(
            id: id,
            environmentID: caller.environmentID,
            version: version,
            versionCheck: versionCheck,
            expectedVersion: expectedVersion,
            events: events
        )
        switch outcome {
        case .updated:
            let object = try await fetch(.id(id), environmentID: caller.environmentID)
            return ObjectWithoutValue(id: object.id, name: object.name, metadata: try object.metadata())
        case .conflict: throw versionCheck == nil ? Self.expectedVersionConflict : Self.versionConflict
        case .notFound: throw LocalVaultError.objectNotFound
        }
    }

    /// One version of an object, its value decrypted, with that version's own metadata: its id,
    /// number, data key, and when and by whom it was written (GET /kv/{id}/versions/{version}).
    /// Versions written before version numbers existed have an unknown writer, except the
    /// current one. `context` works as in ``readObject(id:environmentID:context:)``.
    /// - Throws: ``LocalVaultError``: 404 if the object or the version does not exist.
    public func readObject(
        id: String,
        version: ObjectVersionSelector,
        environmentID: String,
        context: KeyContext? = nil
    ) async throws
        -> VaultObject
    {
        try await readObject(id: id, version: version, caller: .local(environmentID), context: context)
    }

    /// One version of an object for `caller` (GET /kv/{id}/versions/{version}), recording `vault.data.read`.
    public func readObject(
        id: String,
        version: ObjectVersionSelector,
        caller: VaultCaller,
        context: KeyContext? = nil
    ) async throws -> VaultObject {
        try await read(.version(objectID: id, version), caller: caller, context: context)
    }

    /// Deletes an object (DELETE /kv/{id}): it is gone at once (404 afterwards), but its name
    /// stays held (a create with it is a 409) until the object is purged for good,
    /// ``LocalVaultConfiguration/purgeDelay`` after the delete. A delay of zero purges at once.
    public func deleteObject(
        id: String,
        versionCheck: String?,
        environmentID: String,
        context: KeyContext? = nil
    ) async throws
        -> DeleteObjectResponse
    {
        try await deleteObject(id: id, versionCheck: versionCheck, caller: .local(environmentID), context: context)
    }

    /// Deletes an object for `caller` (DELETE /kv/{id}), recording `vault.data.deleted` in the
    /// same transaction.
    public func deleteObject(
        id: String,
        versionCheck: String?,
        caller: VaultCaller,
        context: KeyContext? = nil
    ) async throws -> DeleteObjectResponse {
        let environmentID = caller.environmentID
        guard !ControlCharacters.occur(in: id) else { throw LocalVaultError.objectNotFound }
        let contextJSON = try Self.storedForm(of: context)
        let now = Date().storedMilliseconds
        let (sum, overflow) = now.addingReportingOverflow(purgeDelay.storedMilliseconds)
        let purgeAt = overflow ? Int64.max : sum
        let outcome = try await storage.deleteObject(
            id: id,
            environmentID: environmentID,
            contextJSON: contextJSON,
            // Version ids are ours: one holding a control character matches none (a conflict),
            // and never reaches the store to be matched cut at a NUL.
            versionCheck: versionCheck.map { ControlCharacters.occur(in: $0) ? "" : $0 },
            deletedAt: now,
            purgeAt: purgeAt <= now ? nil : purgeAt,
            events: deletedEvents(caller: caller)
        )
        switch outcome {
        case .deleted(let name, _): return DeleteObjectResponse(success: true, name: name)
        case .conflict: throw Self.versionConflict
        case .notFound: throw LocalVaultError.objectNotFound
        }
    }

    /// Purges for good the deleted objects whose purge is due (``LocalVaultConfiguration/purgeDelay``
    /// after their delete), freeing their names; returns how many were purged. The vault runs it
    /// on its own unless told otherwise (``LocalVaultConfiguration/purgesInBackground``). It also
    /// deletes the idempotency records older than ``idempotencyWindow``.
    @discardableResult
    public func purgeDueObjects(now: Date = Date()) async throws -> Int {
        let purged = try await storage.purgeObjects(.due(now: now.storedMilliseconds))
        try await storage.expireIdempotencyRecords(
            createdBefore: now.addingTimeInterval(-Self.idempotencyWindow).storedMilliseconds
        )
        return purged
    }

    /// Purges for good the objects deleted at or before `cutoff`, whether or not their purge is due.
    @discardableResult
    public func purgeDeletedObjects(deletedBefore cutoff: Date) async throws -> Int {
        try await storage.purgeObjects(.deletedBefore(cutoff.storedMilliseconds))
    }

    /// How many deleted objects await their purge (and hold their names), in every environment.
    public func pendingPurges() async throws -> Int {
        try await storage.pendingPurges()
    }

    /// How often the purge runs: often enough that an object is purged at most this late.
    public var purgeInterval: Duration { Self.purgeInterval(delay: purgeDelay) }

    static func purgeInterval(delay: Duration) -> Duration {
        // A zero delay purges on delete: the timer only picks up rows left by an earlier run.
        delay <= .zero ? .seconds(60) : min(delay, .seconds(60))
    }

    // MARK: Lists

    /// The versions of an object, newest first (GET /kv/{id}/versions).
    public func listVersions(
        id: String,
        environmentID: String,
        context: KeyContext? = nil
    ) async throws
        -> ListResponse<ObjectVersion>
    {
        let current = try await fetch(.id(id), environmentID: environmentID, context: context)
        let versions = try await storage.versions(ofObject: id).map { version in
            ObjectVersion(
                id: version.id,
                createdAt: Date(storedMilliseconds: version.createdAt),
                currentVersion: version.id == current.versionID,
                size: version.size,
                etag: version.etag,
                version: version.number
            )
        }
        return ListResponse(data: versions, listMetadata: ListMetadata(before: nil, after: nil))
    }

    /// A page of the environment's live objects (GET /kv), ordered by creation. `after` and
    /// `before` are object ids from a previous page's `list_metadata`. With a
    /// `ListObjectsQuery.keyContext`, only objects whose context is exactly that one are listed.
    /// - Throws: ``LocalVaultError``: 422 for a limit outside 1...100, an unknown cursor, a
    ///   search holding a control character (no name holds one), or a key context that breaks
    ///   `KeyContext`'s rules.
    public func listObjects(
        _ query: ListObjectsQuery,
        environmentID: String
    ) async throws
        -> ListResponse<ObjectSummary>
    {
        try await listObjects(query, caller: .local(environmentID))
    }

    /// A page of the environment's live objects for `caller` (GET /kv), recording `vault.names.listed`.
    public func listObjects(_ query: ListObjectsQuery, caller: VaultCaller) async throws -> ListResponse<ObjectSummary>
    {
        let page = try await listObjectPage(query, environmentID: caller.environmentID)
        try await recordRead(
            .namesListed,
            VaultEventData(actor: caller.actor),
            caller: caller,
            organizationID: Self.organizationID(of: query.keyContext)
        )
        return page
    }

    private func listObjectPage(
        _ query: ListObjectsQuery,
        environmentID: String
    ) async throws -> ListResponse<ObjectSummary> {
        guard (1...ListObjectsQuery.maxLimit).contains(query.limit) else {
            throw LocalVaultError(.unprocessable, "limit must be 1 to \(ListObjectsQuery.maxLimit)")
        }
        if let search = query.search, ControlCharacters.occur(in: search) {
            throw LocalVaultError(.unprocessable, "search must not contain \(ControlCharacters.rule)")
        }
        let contextJSON = try Self.storedForm(of: query.keyContext)
        let cursorID = query.before ?? query.after
        // Object ids are ours (lowercase UUIDs): one with a control character names no object.
        if let cursorID, ControlCharacters.occur(in: cursorID) { throw Self.unknownCursor }
        // Walking backwards (a `before` cursor) reads in the opposite order and flips the page.
        let backwards = query.before != nil
        let filter = ObjectListFilter(
            environmentID: environmentID,
            contextJSON: contextJSON,
            search: query.search.flatMap { $0.isEmpty ? nil : $0 },
            updatedAfter: query.updatedAfter?.storedMilliseconds,
            cursorID: cursorID,
            ascending: (query.order == .ascending) != backwards,
            limit: query.limit
        )
        guard let rows = try await storage.listObjects(filter) else { throw Self.unknownCursor }
        let page = ListPage(rows: rows, limit: query.limit, backwards: backwards, after: query.after)
        return ListResponse(data: page.rows, listMetadata: page.metadata(id: \.id))
    }

    // MARK: Helpers

    static let versionConflict = LocalVaultError(
        .conflict,
        "version_check does not match the current version",
        rule: .versionCheck
    )

    static let expectedVersionConflict = LocalVaultError(
        .conflict,
        "expected_version does not match the current version",
        rule: .versionCheck
    )

    static let nameInUse = LocalVaultError(.conflict, "an object with this name already exists")

    /// The name's holder was deleted and frees it when purged, at `purgeAt` (ms) or up to one
    /// ``purgeInterval`` later; the instant is rounded up to the second.
    static func nameHeld(until purgeAt: Int64) -> LocalVaultError {
        // Past the year 9999 (a delay meant as "never"), the last instant ISO 8601 can write.
        let seconds = min((Double(purgeAt) / 1000).rounded(.up), 253_402_300_799)
        let instant = Date(timeIntervalSince1970: seconds)
        return LocalVaultError(
            .conflict,
            "the name is held by a deleted object until it is purged, at \(instant.formatted(.iso8601))"
        )
    }

    static let unknownCursor = LocalVaultError(.unprocessable, "the list cursor does not name an object")

    static func newID() throws -> String { try Identifier.randomString() }

    /// The associated data of a stored value: a sealed value copied to another object's row
    /// does not open there.
    static func associatedData(objectID: String) -> [UInt8] { Array("lvs.object\0\(objectID)".utf8) }

    /// `value` sealed under a fresh data key of `context`, as the caller's new version.
    private func seal(
        _ value: String,
        objectID: String,
        context: KeyContext,
        caller: VaultCaller
    ) async throws
        -> NewObjectVersion
    {
        guard value.utf8.count <= Self.maxValueSize else { throw Self.valueTooLarge }
        let issued = try await issueDataKey(context: context, caller: caller)
        let blob = try EnvelopeBlob.seal(
            Array(value.utf8),
            with: issued.key,
            encryptedKeys: issued.encryptedKeys,
            associatedData: Self.associatedData(objectID: objectID)
        )
        return NewObjectVersion(
            id: try Self.newID(),
            createdAt: Date().storedMilliseconds,
            actor: caller.actor,
            size: value.utf8.count,
            etag: SHA256.hexDigest(blob.bytes),
            dataKeyID: issued.id,
            sealedValue: blob.bytes
        )
    }

    /// The stored form of a context a caller looks objects up by: its canonical JSON, after the
    /// context rules (a context that breaks them is a 422, not an empty answer).
    static func storedForm(of context: KeyContext?) throws -> String? {
        guard let context else { return nil }
        do {
            try context.validate()
        } catch {
            throw LocalVaultError.invalidKeyContext(error)
        }
        return context.canonicalJSON
    }

    /// The live object `lookup` names (and whose context is `context`, when given: compared by
    /// the storage, so that no other object's row is even read). Ids are ours and names follow
    /// `ObjectName`: text holding a control character names no object, and is never matched
    /// cut at a NUL.
    private func fetch(
        _ lookup: ObjectLookup,
        environmentID: String,
        context: KeyContext? = nil
    ) async throws
        -> StoredObject
    {
        let names: [String]
        switch lookup {
        case .id(let text), .name(let text), .version(objectID: let text, .number): names = [text]
        case .version(let objectID, .id(let versionID)): names = [objectID, versionID]
        }
        guard !names.contains(where: ControlCharacters.occur(in:)) else { throw LocalVaultError.objectNotFound }
        let contextJSON = try Self.storedForm(of: context)
        guard let object = try await storage.object(lookup, environmentID: environmentID, contextJSON: contextJSON)
        else { throw LocalVaultError.objectNotFound }
        return object
    }

    /// Reads and decrypts the object `lookup` names, and records `vault.data.read` before
    /// returning it.
    private func read(_ lookup: ObjectLookup, caller: VaultCaller, context: KeyContext?) async throws -> VaultObject {
        let row = try await fetch(lookup, environmentID: caller.environmentID, context: context)
        let object = try await decrypt(row)
        try await recordRead(
            .dataRead,
            VaultEventData(actor: caller.actor, kvName: row.name, keyID: row.dataKeyID),
            caller: caller,
            // The context decoded once, for the answer's metadata.
            organizationID: Self.organizationID(of: object.metadata.context)
        )
        return object
    }

    private func decrypt(_ row: StoredObject) async throws -> VaultObject {
        let damaged = LocalVaultError(.internalError, "the stored value of object \(row.id) does not authenticate")
        guard let blob = try? EnvelopeBlob(parsing: row.sealedValue, layout: .a) else { throw damaged }
        let key: DataKey
        do {
            key = try await decryptDataKey(
                encryptedKeys: blob.encryptedKeys,
                environmentID: row.environmentID,
                origin: .storedObject
            ).key
        } catch let error as LocalVaultError where error.kind == .insufficientPermissions || error.kind == .unavailable
        {
            throw error
        } catch {
            throw damaged
        }
        guard let bytes = try? blob.open(with: key, associatedData: Self.associatedData(objectID: row.id)),
            let value = String(validating: bytes, as: UTF8.self)
        else { throw damaged }
        return VaultObject(id: row.id, name: row.name, value: value, metadata: try row.metadata())
    }
}

extension StoredObject {
    /// The key context, from its stored canonical JSON.
    func context() throws -> KeyContext {
        guard let context = try? JSONDecoder().decode(KeyContext.self, from: Data(contextJSON.utf8)) else {
            throw LocalVaultError(.internalError, "the stored key context of object \(id) does not parse")
        }
        return context
    }

    func metadata() throws -> ObjectMetadata {
        ObjectMetadata(
            id: id,
            environmentID: environmentID,
            keyID: dataKeyID,
            updatedAt: Date(storedMilliseconds: updatedAt),
            updatedBy: actor,
            context: try context(),
            versionID: versionID,
            version: versionNumber
        )
    }
}
