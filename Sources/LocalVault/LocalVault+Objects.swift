import EnvelopeCrypto
import Foundation
import GRDB
import VaultAPI

/// Objects: named values, each version encrypted with its own data key under the object's key
/// context. The store holds only the sealed value (a layout-A blob whose associated data binds it
/// to its object), its size and an etag computed over the sealed bytes.
extension LocalVault {
    /// One stored object row, as read inside a transaction.
    struct ObjectRow: Sendable {
        var id: String
        var environmentID: String
        var name: String
        var context: KeyContext
        var updatedAt: Date
        var actor: Actor
        var versionID: String
        var versionNumber: Int
        var dataKeyID: String
        var sealedValue: [UInt8]

        /// An object at its current version.
        static let selection = """
            SELECT o.id, o.environment_id, o.name, o.key_context, o.updated_at, o.updated_by_id, o.updated_by_name,
                   o.current_version_id, v.number AS version_number, v.data_key_id, v.sealed_value
            FROM objects o JOIN object_versions v ON v.id = o.current_version_id
            """

        /// An object at any of its versions, with that version's own metadata under the same names.
        static let versionSelection = """
            SELECT o.id, o.environment_id, o.name, o.key_context, v.created_at AS updated_at,
                   v.created_by_id AS updated_by_id, v.created_by_name AS updated_by_name,
                   v.id AS current_version_id, v.number AS version_number, v.data_key_id, v.sealed_value
            FROM objects o JOIN object_versions v ON v.object_id = o.id
            """

        init(row: Row) throws {
            id = row["id"]
            environmentID = row["environment_id"]
            name = row["name"]
            let contextJSON: String = row["key_context"]
            context = try JSONDecoder().decode(KeyContext.self, from: Data(contextJSON.utf8))
            updatedAt = Date(storedMilliseconds: row["updated_at"])
            actor = Actor(id: row["updated_by_id"], name: row["updated_by_name"])
            versionID = row["current_version_id"]
            versionNumber = row["version_number"]
            dataKeyID = row["data_key_id"]
            sealedValue = Array(row["sealed_value"] as Data)
        }

        var metadata: ObjectMetadata {
            ObjectMetadata(
                id: id,
                environmentID: environmentID,
                keyID: dataKeyID,
                updatedAt: updatedAt,
                updatedBy: actor,
                context: context,
                versionID: versionID,
                version: versionNumber
            )
        }
    }

    /// A sealed version, ready to insert.
    struct SealedVersion: Sendable {
        var id: String
        var size: Int
        var etag: String
        var dataKeyID: String
        var bytes: [UInt8]
    }

    // MARK: Create, read, update, delete

    /// Creates an object (POST /kv).
    /// - Throws: ``LocalVaultError``: 422 for a name or context that breaks the rules (``ObjectName``,
    ///   ``KeyContext``), 409 if the name is in use, by a live object or by a deleted one whose
    ///   purge is not yet due (see ``deleteObject(id:versionCheck:environmentID:context:)``).
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
        let version = try await seal(value, objectID: objectID, context: context, environmentID: caller.environmentID)
        // Stored canonical, so that a lookup by context is an equality on this column.
        let contextJSON = context.canonicalJSON
        let now = Date().storedMilliseconds
        let arguments = try StatementArguments.checked([
            objectID, caller.environmentID, name, contextJSON, now, now, caller.actor.id, caller.actor.name, version.id,
        ])
        let holderArguments = try StatementArguments.checked([caller.environmentID, name])
        let purgedHolder: Bool
        do {
            purgedHolder = try await store.pool.write { db in
                // A deleted object holds its name until its purge is due; one that is due is
                // purged here, so that the name frees on time even between two purge runs.
                let holder = try Row.fetchOne(
                    db,
                    sql: "SELECT id, deleted_at, purge_at FROM objects WHERE environment_id = ? AND name = ?",
                    arguments: holderArguments
                )
                var purged = false
                if let holder {
                    guard (holder["deleted_at"] as Int64?) != nil else { throw Self.nameInUse }
                    let purgeAt: Int64 = holder["purge_at"] ?? now
                    guard purgeAt <= now else { throw Self.nameHeld(until: purgeAt) }
                    try Self.purge(objectID: holder["id"], db: db)
                    purged = true
                }
                try db.execute(
                    sql: """
                        INSERT INTO objects (id, environment_id, name, key_context, created_at, updated_at,
                                             updated_by_id, updated_by_name, current_version_id)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: arguments
                )
                try Self.insert(version, objectID: objectID, number: 1, createdAt: now, actor: caller.actor, db: db)
                return purged
            }
        } catch let error as DatabaseError where error.isUniqueConstraintViolation {
            throw Self.nameInUse
        }
        if purgedHolder { await store.truncateWAL() }
        return try await describeObject(id: objectID, environmentID: caller.environmentID).metadata
    }

    /// Reads an object and decrypts its value (GET /kv/{id}).
    ///
    /// Every call that finds an object takes an optional `context`: when given, the object is
    /// found only if its key context holds exactly these pairs, byte for byte (see
    /// ``KeyContext/canonicalJSON``); any other object is the same 404 as a missing one, and
    /// nothing is decrypted.
    /// - Throws: ``LocalVaultError``: 404 if there is no such live object in the environment (or
    ///   its context is not `context`), 422 for a `context` that breaks ``KeyContext``'s rules.
    public func readObject(id: String, environmentID: String, context: KeyContext? = nil) async throws -> VaultObject {
        try await decrypt(fetch(where: "o.id = ?", id, environmentID: environmentID, context: context))
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
        try await decrypt(fetch(where: "o.name = ?", name, environmentID: environmentID, context: context))
    }

    /// An object's metadata, without decrypting its value (GET /kv/{id}/metadata).
    public func describeObject(
        id: String,
        environmentID: String,
        context: KeyContext? = nil
    ) async throws
        -> ObjectWithoutValue
    {
        let row = try await fetch(where: "o.id = ?", id, environmentID: environmentID, context: context)
        return ObjectWithoutValue(id: row.id, name: row.name, metadata: row.metadata)
    }

    /// Stores a new version of an object's value (PUT /kv/{id}); its number is one more than the
    /// last. With `versionCheck` (a version id) or `expectedVersion` (a version number), the
    /// update happens only if it names the current version: of several concurrent updates
    /// carrying the same check exactly one wins, the others get 409. Without, the last write wins.
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
        let current = try await fetch(where: "o.id = ?", id, environmentID: caller.environmentID, context: context)
        let conflict = versionCheck == nil ? Self.expectedVersionConflict : Self.versionConflict
        if let versionCheck, versionCheck != current.versionID { throw Self.versionConflict }
        if let expectedVersion, expectedVersion != current.versionNumber { throw Self.expectedVersionConflict }
        let version = try await seal(value, objectID: id, context: current.context, environmentID: caller.environmentID)
        let now = Date().storedMilliseconds
        // The check and the switch to the new version happen in one write transaction.
        var sql = """
            UPDATE objects SET current_version_id = ?, updated_at = ?, updated_by_id = ?, updated_by_name = ?
            WHERE id = ? AND environment_id = ? AND deleted_at IS NULL
            """
        var values: [(any DatabaseValueConvertible)?] = [
            version.id, now, caller.actor.id, caller.actor.name, id, caller.environmentID,
        ]
        if let versionCheck {
            sql += " AND current_version_id = ?"
            values.append(versionCheck)
        }
        if let expectedVersion {
            sql += " AND (SELECT number FROM object_versions WHERE id = objects.current_version_id) = ?"
            values.append(expectedVersion)
        }
        let arguments = try StatementArguments.checked(values)
        let update = sql
        let liveArguments = try StatementArguments.checked([id, caller.environmentID])
        let objectArguments = try StatementArguments.checked([id])
        try await store.pool.write { db in
            try db.execute(sql: update, arguments: arguments)
            guard db.changesCount == 1 else {
                let stillLive = try Bool.fetchOne(
                    db,
                    sql: "SELECT 1 FROM objects WHERE id = ? AND environment_id = ? AND deleted_at IS NULL",
                    arguments: liveArguments
                )
                throw stillLive == true ? conflict : LocalVaultError.objectNotFound
            }
            // Writes are serialized: no other transaction numbers a version of this object meanwhile.
            let number =
                try Int.fetchOne(
                    db,
                    sql: "SELECT MAX(number) + 1 FROM object_versions WHERE object_id = ?",
                    arguments: objectArguments
                ) ?? 1
            try Self.insert(version, objectID: id, number: number, createdAt: now, actor: caller.actor, db: db)
        }
        return try await describeObject(id: id, environmentID: caller.environmentID)
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
        guard !ControlCharacters.occur(in: id) else { throw LocalVaultError.objectNotFound }
        let versionCondition: String
        let versionValue: any DatabaseValueConvertible
        switch version {
        case .id(let versionID):
            guard !ControlCharacters.occur(in: versionID) else { throw LocalVaultError.objectNotFound }
            (versionCondition, versionValue) = ("v.id = ?", versionID)
        case .number(let number):
            (versionCondition, versionValue) = ("v.number = ?", number)
        }
        let row = try await fetchLiveRow(
            ObjectRow.versionSelection,
            where: "o.id = ? AND \(versionCondition)",
            [id, versionValue],
            environmentID: environmentID,
            context: context
        )
        return try await decrypt(row)
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
        guard !ControlCharacters.occur(in: id) else { throw LocalVaultError.objectNotFound }
        let contextJSON = try Self.storedForm(of: context)
        let now = Date().storedMilliseconds
        let (sum, overflow) = now.addingReportingOverflow(purgeDelay.storedMilliseconds)
        let purgeAt = overflow ? Int64.max : sum
        let purgeNow = purgeAt <= now
        let select = try StatementArguments.checked([id, environmentID, contextJSON, contextJSON])
        let update = try StatementArguments.checked([now, purgeAt, id])
        let name = try await store.pool.write { db -> String in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql:
                        """
                        SELECT name, current_version_id FROM objects
                        WHERE id = ? AND environment_id = ? AND deleted_at IS NULL AND (? IS NULL OR key_context = ?)
                        """,
                    arguments: select
                )
            else { throw LocalVaultError.objectNotFound }
            if let versionCheck, versionCheck != row["current_version_id"] { throw Self.versionConflict }
            if purgeNow {
                try Self.purge(objectID: id, db: db)
            } else {
                try db.execute(sql: "UPDATE objects SET deleted_at = ?, purge_at = ? WHERE id = ?", arguments: update)
            }
            return row["name"]
        }
        if purgeNow { await store.truncateWAL() }
        return DeleteObjectResponse(success: true, name: name)
    }

    /// Purges for good the deleted objects whose purge is due (``LocalVaultConfiguration/purgeDelay``
    /// after their delete), freeing their names; returns how many were purged. The vault runs it
    /// on its own unless told otherwise (``LocalVaultConfiguration/purgesInBackground``).
    @discardableResult
    public func purgeDueObjects(now: Date = Date()) async throws -> Int {
        try await purge(where: "purge_at <= ?", now.storedMilliseconds)
    }

    /// Purges for good the objects deleted at or before `cutoff`, whether or not their purge is due.
    @discardableResult
    public func purgeDeletedObjects(deletedBefore cutoff: Date) async throws -> Int {
        try await purge(where: "deleted_at <= ?", cutoff.storedMilliseconds)
    }

    /// How many deleted objects await their purge (and hold their names), in every environment.
    public func pendingPurges() async throws -> Int {
        try await store.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM objects WHERE deleted_at IS NOT NULL") ?? 0
        }
    }

    /// How often the purge runs: often enough that an object is purged at most this late.
    public var purgeInterval: Duration { Self.purgeInterval(delay: purgeDelay) }

    static func purgeInterval(delay: Duration) -> Duration {
        // A zero delay purges on delete: the timer only picks up rows left by an earlier run.
        delay <= .zero ? .seconds(60) : min(delay, .seconds(60))
    }

    private func purge(where condition: String, _ instant: Int64) async throws -> Int {
        let arguments = try StatementArguments.checked([instant, instant])
        let purged = try await store.pool.write { db in
            try db.execute(
                sql: """
                    DELETE FROM object_versions WHERE object_id IN
                        (SELECT id FROM objects WHERE deleted_at IS NOT NULL AND \(condition));
                    DELETE FROM objects WHERE deleted_at IS NOT NULL AND \(condition);
                    """,
                arguments: arguments
            )
            return db.changesCount
        }
        if purged > 0 || store.walTruncationPending { await store.truncateWAL() }
        return purged
    }

    /// Removes an object and its versions (secure_delete overwrites their bytes).
    private static func purge(objectID: String, db: Database) throws {
        let arguments = try StatementArguments.checked([objectID])
        try db.execute(sql: "DELETE FROM object_versions WHERE object_id = ?", arguments: arguments)
        try db.execute(sql: "DELETE FROM objects WHERE id = ?", arguments: arguments)
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
        let current = try await fetch(where: "o.id = ?", id, environmentID: environmentID, context: context)
        let arguments = try StatementArguments.checked([id])
        let versions = try await store.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, number, created_at, size, etag FROM object_versions
                    WHERE object_id = ? ORDER BY number DESC
                    """,
                arguments: arguments
            ).map { row in
                ObjectVersion(
                    id: row["id"],
                    createdAt: Date(storedMilliseconds: row["created_at"]),
                    currentVersion: row["id"] == current.versionID,
                    size: row["size"],
                    etag: row["etag"],
                    version: row["number"]
                )
            }
        }
        return ListResponse(data: versions, listMetadata: ListMetadata(before: nil, after: nil))
    }

    /// A page of the environment's live objects (GET /kv), ordered by creation. `after` and
    /// `before` are object ids from a previous page's `list_metadata`. With a
    /// ``ListObjectsQuery/keyContext``, only objects whose context is exactly that one are listed.
    /// - Throws: ``LocalVaultError``: 422 for a limit outside 1...100, an unknown cursor, a
    ///   search holding a control character (no name holds one), or a key context that breaks
    ///   ``KeyContext``'s rules.
    public func listObjects(
        _ query: ListObjectsQuery,
        environmentID: String
    ) async throws
        -> ListResponse<ObjectSummary>
    {
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
        let cursorArguments = try StatementArguments.checked([cursorID, environmentID])
        return try await store.pool.read { db in
            var conditions = ["environment_id = ?", "deleted_at IS NULL"]
            var values: [(any DatabaseValueConvertible)?] = [environmentID]
            if let contextJSON {
                conditions.append("key_context = ?")
                values.append(contextJSON)
            }
            if let search = query.search, !search.isEmpty {
                conditions.append("name LIKE ? ESCAPE '\\'")
                let escaped = search.replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
                values.append("%\(escaped)%")
            }
            if let updatedAfter = query.updatedAfter {
                conditions.append("updated_at > ?")
                values.append(updatedAfter.storedMilliseconds)
            }
            // Walking backwards (a `before` cursor) reads in the opposite order and flips the page.
            let backwards = query.before != nil
            let ascending = (query.order == .ascending) != backwards
            if let cursorID {
                guard
                    let createdAt = try Int64.fetchOne(
                        db,
                        sql: "SELECT created_at FROM objects WHERE id = ? AND environment_id = ?",
                        arguments: cursorArguments
                    )
                else { throw Self.unknownCursor }
                conditions.append("(created_at, id) \(ascending ? ">" : "<") (?, ?)")
                values += [createdAt, cursorID]
            }
            let direction = ascending ? "ASC" : "DESC"
            var rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, name, updated_at FROM objects WHERE \(conditions.joined(separator: " AND "))
                    ORDER BY created_at \(direction), id \(direction) LIMIT ?
                    """,
                arguments: try StatementArguments.checked(values + [query.limit + 1])
            )
            let hasMore = rows.count > query.limit
            rows = Array(rows.prefix(query.limit))
            if backwards { rows.reverse() }
            let summaries = rows.map { row in
                ObjectSummary(id: row["id"], name: row["name"], updatedAt: Date(storedMilliseconds: row["updated_at"]))
            }
            let metadata: ListMetadata
            if backwards {
                metadata = ListMetadata(before: hasMore ? summaries.first?.id : nil, after: summaries.last?.id)
            } else {
                metadata = ListMetadata(
                    before: query.after == nil ? nil : summaries.first?.id,
                    after: hasMore ? summaries.last?.id : nil
                )
            }
            return ListResponse(data: summaries, listMetadata: metadata)
        }
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

    private func seal(
        _ value: String,
        objectID: String,
        context: KeyContext,
        environmentID: String
    ) async throws
        -> SealedVersion
    {
        let issued = try await createDataKey(context: context, environmentID: environmentID)
        let blob = try EnvelopeBlob.seal(
            Array(value.utf8),
            with: issued.key,
            encryptedKeys: issued.encryptedKeys,
            associatedData: Self.associatedData(objectID: objectID)
        )
        return SealedVersion(
            id: try Self.newID(),
            size: value.utf8.count,
            etag: SHA256.hexDigest(blob.bytes),
            dataKeyID: issued.id,
            bytes: blob.bytes
        )
    }

    private static func insert(
        _ version: SealedVersion,
        objectID: String,
        number: Int,
        createdAt: Int64,
        actor: Actor,
        db: Database
    ) throws {
        try db.execute(
            sql: """
                INSERT INTO object_versions (id, object_id, number, created_at, created_by_id, created_by_name,
                                             size, etag, data_key_id, sealed_value)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: try StatementArguments.checked([
                version.id, objectID, number, createdAt, actor.id, actor.name, version.size, version.etag,
                version.dataKeyID, Data(version.bytes),
            ])
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

    /// The live object whose id or name is `value` (and whose context is `context`, when given:
    /// compared in the query, so that no other object's row is even read). Ids are ours and names
    /// follow ``ObjectName``: text holding a control character names no object, and is never
    /// matched cut at a NUL.
    private func fetch(
        where condition: String,
        _ value: String,
        environmentID: String,
        context: KeyContext? = nil
    ) async throws
        -> ObjectRow
    {
        guard !ControlCharacters.occur(in: value) else { throw LocalVaultError.objectNotFound }
        return try await fetchLiveRow(
            ObjectRow.selection,
            where: condition,
            [value],
            environmentID: environmentID,
            context: context
        )
    }

    /// One live object row of `environmentID` matching `condition`, and, with a context, only if
    /// its stored context is exactly that one (compared in SQL, so a mismatch decrypts nothing).
    private func fetchLiveRow(
        _ selection: String,
        where condition: String,
        _ values: [(any DatabaseValueConvertible)?],
        environmentID: String,
        context: KeyContext?
    ) async throws -> ObjectRow {
        var sql = "\(selection) WHERE \(condition) AND o.environment_id = ? AND o.deleted_at IS NULL"
        var values = values + [environmentID]
        if let contextJSON = try Self.storedForm(of: context) {
            sql += " AND o.key_context = ?"
            values.append(contextJSON)
        }
        let arguments = try StatementArguments.checked(values)
        let query = sql
        let row = try await store.pool.read { db in
            try Row.fetchOne(db, sql: query, arguments: arguments).map(ObjectRow.init(row:))
        }
        guard let row else { throw LocalVaultError.objectNotFound }
        return row
    }

    private func decrypt(_ row: ObjectRow) async throws -> VaultObject {
        let damaged = LocalVaultError(.internalError, "the stored value of object \(row.id) does not authenticate")
        guard let blob = try? EnvelopeBlob(parsing: row.sealedValue, layout: .a) else { throw damaged }
        let key: DataKey
        do {
            key = try await decryptDataKey(
                encryptedKeys: blob.encryptedKeys,
                environmentID: row.environmentID,
                origin: .storedObject
            ).key
        } catch let error as LocalVaultError where error.kind == .insufficientPermissions {
            throw error
        } catch {
            throw damaged
        }
        guard let bytes = try? blob.open(with: key, associatedData: Self.associatedData(objectID: row.id)),
            let value = String(validating: bytes, as: UTF8.self)
        else { throw damaged }
        return VaultObject(id: row.id, name: row.name, value: value, metadata: row.metadata)
    }
}
