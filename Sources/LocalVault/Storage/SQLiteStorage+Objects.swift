import Foundation
import GRDB
import VaultAPI

/// Objects and their versions. Every check-and-write is one conditional statement; a purge
/// empties the WAL afterwards.
extension SQLiteStorage {
    func createObject(
        _ object: NewObject,
        firstVersion version: NewObjectVersion,
        events: [NewVaultEvent]
    ) async throws -> CreateObjectOutcome {
        let now = version.createdAt
        let holderArguments = try StatementArguments.checked([object.environmentID, object.name])
        let insert = try StatementArguments.checked([
            object.id, object.environmentID, object.name, object.contextJSON, now, now, version.actor.id,
            version.actor.name, version.id,
        ])
        let versionArguments = try Self.insertArguments(version, objectID: object.id, number: 1)
        let outcome: CreateObjectOutcome
        do {
            outcome = try await pool.write { db -> CreateObjectOutcome in
                // A deleted object holds its name until its purge is due; one that is due is
                // purged here, so that the name frees on time even between two purge runs.
                let holder = try Row.fetchOne(
                    db,
                    sql: "SELECT id, deleted_at, purge_at FROM objects WHERE environment_id = ? AND name = ?",
                    arguments: holderArguments
                )
                if let holder {
                    guard (holder["deleted_at"] as Int64?) != nil else { return .nameInUse }
                    let purgeAt: Int64 = holder["purge_at"] ?? now
                    guard purgeAt <= now else { return .nameHeld(purgeAt: purgeAt) }
                    try Self.purge(objectID: holder["id"], db: db)
                }
                try db.execute(
                    sql: """
                        INSERT INTO objects (id, environment_id, name, key_context, created_at, updated_at,
                                             updated_by_id, updated_by_name, current_version_id)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: insert
                )
                try db.execute(sql: Self.insertVersion, arguments: versionArguments)
                try Self.append(events, db: db)
                return .created(purgedHolder: holder != nil)
            }
        } catch let error as DatabaseError where error.isUniqueConstraintViolation {
            // The unique (environment, name) index: another writer took the name first.
            return .nameInUse
        } catch {
            throw Self.mapped(error)
        }
        if outcome == .created(purgedHolder: true) { await truncateWAL() }
        return outcome
    }

    func object(_ lookup: ObjectLookup, environmentID: String, contextJSON: String?) async throws -> StoredObject? {
        let selection: String
        let condition: String
        let values: [(any DatabaseValueConvertible)?]
        switch lookup {
        case .id(let id):
            (selection, condition, values) = (Self.currentSelection, "o.id = ?", [id])
        case .name(let name):
            (selection, condition, values) = (Self.currentSelection, "o.name = ?", [name])
        case .version(let objectID, .id(let versionID)):
            (selection, condition, values) = (Self.versionSelection, "o.id = ? AND v.id = ?", [objectID, versionID])
        case .version(let objectID, .number(let number)):
            (selection, condition, values) = (Self.versionSelection, "o.id = ? AND v.number = ?", [objectID, number])
        }
        let sql = """
            \(selection) WHERE \(condition) AND o.environment_id = ? AND o.deleted_at IS NULL
            AND (? IS NULL OR o.key_context = ?)
            """
        let arguments = try StatementArguments.checked(values + [environmentID, contextJSON, contextJSON])
        return try await read { db in try Row.fetchOne(db, sql: sql, arguments: arguments).map(Self.storedObject) }
    }

    func updateObject(
        id: String,
        environmentID: String,
        version: NewObjectVersion,
        versionCheck: String?,
        expectedVersion: Int?,
        events: [NewVaultEvent]
    ) async throws -> UpdateObjectOutcome {
        let update = try StatementArguments.checked([
            version.id, version.createdAt, version.actor.id, version.actor.name, id, environmentID, versionCheck,
            versionCheck, expectedVersion, expectedVersion,
        ])
        let live = try StatementArguments.checked([id, environmentID, nil, nil])
        let objectArguments = try StatementArguments.checked([id])
        return try await write { db in
            try db.execute(
                sql: """
                    UPDATE objects SET current_version_id = ?, updated_at = ?, updated_by_id = ?, updated_by_name = ?
                    WHERE id = ? AND environment_id = ? AND deleted_at IS NULL
                    AND (? IS NULL OR current_version_id = ?)
                    AND (? IS NULL OR (SELECT number FROM object_versions WHERE id = objects.current_version_id) = ?)
                    """,
                arguments: update
            )
            guard db.changesCount == 1 else { return try Self.isLive(live, db: db) ? .conflict : .notFound }
            // In the same transaction as the switch: no other update numbers a version meanwhile.
            let number =
                try Int.fetchOne(
                    db,
                    sql: "SELECT MAX(number) + 1 FROM object_versions WHERE object_id = ?",
                    arguments: objectArguments
                ) ?? 1
            try db.execute(
                sql: Self.insertVersion,
                arguments: try Self.insertArguments(version, objectID: id, number: number)
            )
            try Self.append(events, db: db)
            return .updated
        }
    }

    func deleteObject(
        id: String,
        environmentID: String,
        contextJSON: String?,
        versionCheck: String?,
        deletedAt: Int64,
        purgeAt: Int64?,
        events: DeletedObjectEvents?
    ) async throws -> DeleteObjectOutcome {
        let delete = try StatementArguments.checked([
            deletedAt, purgeAt ?? deletedAt, id, environmentID, contextJSON, contextJSON, versionCheck, versionCheck,
        ])
        let live = try StatementArguments.checked([id, environmentID, contextJSON, contextJSON])
        let outcome = try await write { db -> DeleteObjectOutcome in
            let deleted = try Row.fetchOne(
                db,
                sql: """
                    UPDATE objects SET deleted_at = ?, purge_at = ?
                    WHERE id = ? AND environment_id = ? AND deleted_at IS NULL AND (? IS NULL OR key_context = ?)
                    AND (? IS NULL OR current_version_id = ?)
                    RETURNING name, key_context
                    """,
                arguments: delete
            )
            guard let deleted else { return try Self.isLive(live, db: db) ? .conflict : .notFound }
            let name: String = deleted["name"]
            if purgeAt == nil { try Self.purge(objectID: id, db: db) }
            if let events { try Self.append(try events.make(name, deleted["key_context"]), db: db) }
            return .deleted(name: name, purged: purgeAt == nil)
        }
        if case .deleted(_, purged: true) = outcome { await truncateWAL() }
        return outcome
    }

    func purgeObjects(_ selection: PurgeSelection) async throws -> Int {
        let condition: String
        let instant: Int64
        switch selection {
        case .due(let now): (condition, instant) = ("purge_at <= ?", now)
        case .deletedBefore(let cutoff): (condition, instant) = ("deleted_at <= ?", cutoff)
        }
        let arguments = try StatementArguments.checked([instant, instant])
        let purged = try await write { db in
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
        if purged > 0 || walTruncationPending { await truncateWAL() }
        return purged
    }

    func pendingPurges() async throws -> Int {
        try await read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM objects WHERE deleted_at IS NOT NULL") ?? 0
        }
    }

    func versions(ofObject id: String) async throws -> [StoredVersionSummary] {
        let arguments = try StatementArguments.checked([id])
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, number, created_at, size, etag FROM object_versions
                    WHERE object_id = ? ORDER BY number DESC
                    """,
                arguments: arguments
            ).map { row in
                StoredVersionSummary(
                    id: row["id"],
                    number: row["number"],
                    createdAt: row["created_at"],
                    size: row["size"],
                    etag: row["etag"]
                )
            }
        }
    }

    func listObjects(_ filter: ObjectListFilter) async throws -> [ObjectSummary]? {
        var conditions = ["environment_id = ?", "deleted_at IS NULL"]
        var values: [(any DatabaseValueConvertible)?] = [filter.environmentID]
        if let contextJSON = filter.contextJSON {
            conditions.append("key_context = ?")
            values.append(contextJSON)
        }
        if let search = filter.search {
            // SQLite's lower() folds ASCII letters only: the rule both backends share.
            conditions.append("instr(lower(name), lower(?)) > 0")
            values.append(search)
        }
        if let updatedAfter = filter.updatedAfter {
            conditions.append("updated_at > ?")
            values.append(updatedAfter)
        }
        if let cursorID = filter.cursorID {
            let comparison = filter.ascending ? ">" : "<"
            conditions.append("(created_at, id) \(comparison) ((SELECT created_at FROM objects WHERE id = ?), ?)")
            values += [cursorID, cursorID]
        }
        let direction = filter.ascending ? "ASC" : "DESC"
        let sql = """
            SELECT id, name, updated_at FROM objects WHERE \(conditions.joined(separator: " AND "))
            ORDER BY created_at \(direction), id \(direction) LIMIT ?
            """
        let arguments = try StatementArguments.checked(values + [filter.limit + 1])
        let cursor = try filter.cursorID.map { try StatementArguments.checked([$0, filter.environmentID]) }
        return try await read { db -> [ObjectSummary]? in
            if let cursor {
                let exists = try Bool.fetchOne(
                    db,
                    sql: "SELECT EXISTS (SELECT 1 FROM objects WHERE id = ? AND environment_id = ?)",
                    arguments: cursor
                )
                guard exists == true else { return nil }
            }
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map {
                ObjectSummary(id: $0["id"], name: $0["name"], updatedAt: Date(storedMilliseconds: $0["updated_at"]))
            }
        }
    }

    func objectVersions(after afterID: String?, limit: Int) async throws -> [StoredVersionValue] {
        // Every id is longer than "": no cursor starts before the first.
        let arguments = try StatementArguments.checked([afterID ?? "", limit])
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT v.id, v.object_id, v.sealed_value, o.environment_id, o.key_context
                    FROM object_versions v JOIN objects o ON o.id = v.object_id
                    WHERE v.id > ? ORDER BY v.id LIMIT ?
                    """,
                arguments: arguments
            ).map { row in
                StoredVersionValue(
                    id: row["id"],
                    objectID: row["object_id"],
                    environmentID: row["environment_id"],
                    contextJSON: row["key_context"],
                    sealedValue: Array(row["sealed_value"] as Data)
                )
            }
        }
    }

    func replaceSealedValues(_ replacements: [SealedValueReplacement]) async throws -> Int {
        let arguments = try replacements.map {
            try StatementArguments.checked([Data($0.new), $0.versionID, Data($0.old)])
        }
        return try await write { db in
            var changed = 0
            for replacement in arguments {
                try db.execute(
                    sql: "UPDATE object_versions SET sealed_value = ? WHERE id = ? AND sealed_value = ?",
                    arguments: replacement
                )
                changed += db.changesCount
            }
            return changed
        }
    }

    // MARK: Statements

    /// An object at its current version.
    private static let currentSelection = """
        SELECT o.id, o.environment_id, o.name, o.key_context, o.updated_at, o.updated_by_id, o.updated_by_name,
               o.current_version_id, v.number AS version_number, v.data_key_id, v.sealed_value
        FROM objects o JOIN object_versions v ON v.id = o.current_version_id
        """

    /// An object at any of its versions, with that version's own metadata under the same names.
    private static let versionSelection = """
        SELECT o.id, o.environment_id, o.name, o.key_context, v.created_at AS updated_at,
               v.created_by_id AS updated_by_id, v.created_by_name AS updated_by_name,
               v.id AS current_version_id, v.number AS version_number, v.data_key_id, v.sealed_value
        FROM objects o JOIN object_versions v ON v.object_id = o.id
        """

    private static func storedObject(_ row: Row) -> StoredObject {
        StoredObject(
            id: row["id"],
            environmentID: row["environment_id"],
            name: row["name"],
            contextJSON: row["key_context"],
            updatedAt: row["updated_at"],
            actor: VaultActor(id: row["updated_by_id"], name: row["updated_by_name"]),
            versionID: row["current_version_id"],
            versionNumber: row["version_number"],
            dataKeyID: row["data_key_id"],
            sealedValue: Array(row["sealed_value"] as Data)
        )
    }

    private static let insertVersion = """
        INSERT INTO object_versions (id, object_id, number, created_at, created_by_id, created_by_name,
                                     size, etag, data_key_id, sealed_value)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    private static func insertArguments(
        _ version: NewObjectVersion,
        objectID: String,
        number: Int
    ) throws -> StatementArguments {
        try StatementArguments.checked([
            version.id, objectID, number, version.createdAt, version.actor.id, version.actor.name, version.size,
            version.etag, version.dataKeyID, Data(version.sealedValue),
        ])
    }

    /// Whether the object (`id`, environment, optional context) is live: tells a refused
    /// conditional write's conflict from a missing object.
    private static func isLive(_ arguments: StatementArguments, db: Database) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM objects WHERE id = ? AND environment_id = ? AND deleted_at IS NULL
                               AND (? IS NULL OR key_context = ?))
                """,
            arguments: arguments
        ) ?? false
    }

    /// Removes an object and its versions (secure_delete overwrites their bytes).
    private static func purge(objectID: String, db: Database) throws {
        let arguments = try StatementArguments.checked([objectID])
        try db.execute(sql: "DELETE FROM object_versions WHERE object_id = ?", arguments: arguments)
        try db.execute(sql: "DELETE FROM objects WHERE id = ?", arguments: arguments)
    }
}
