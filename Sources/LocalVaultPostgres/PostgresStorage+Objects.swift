import Foundation
import LocalVault
import PostgresNIO
import VaultAPI

/// Objects and their versions.
extension PostgresStorage {
    /// The key of the advisory lock a purge runs under: one process purges at a time.
    static let purgeLock: Int64 = 0x4C56_5055_5247_0001

    package func createObject(
        _ object: NewObject,
        firstVersion: NewObjectVersion,
        events: [NewVaultEvent]
    ) async throws -> CreateObjectOutcome {
        let now = firstVersion.createdAt
        do {
            return try await inTransaction { connection in
                // A deleted object holds its name until its purge is due; one that is due is purged
                // here (locked first, so that a concurrent purge or create waits for this one).
                let holder = try await connection.rows(
                    """
                    SELECT id, deleted_at, purge_at FROM objects
                    WHERE environment_id = \(object.environmentID) AND name = \(object.name) FOR UPDATE
                    """
                ).first.map { try $0.decode((String, Int64?, Int64?).self) }
                var purged = false
                if let (holderID, deletedAt, purgeAt) = holder {
                    guard deletedAt != nil else { return .nameInUse }
                    let due = purgeAt ?? now
                    guard due <= now else { return .nameHeld(purgeAt: due) }
                    try await connection.run("DELETE FROM objects WHERE id = \(holderID)")
                    purged = true
                }
                do {
                    try await connection.run(
                        """
                        INSERT INTO objects (id, environment_id, name, key_context, created_at, updated_at,
                                             updated_by_id, updated_by_name, current_version_id)
                        VALUES (\(object.id), \(object.environmentID), \(object.name), \(object.contextJSON),
                                \(now), \(now), \(firstVersion.actor.id), \(firstVersion.actor.name),
                                \(firstVersion.id))
                        """
                    )
                } catch  where PostgresFailure.isUniqueViolation(error, constraint: "objects_name") {
                    throw NameTakenMeanwhile()
                }
                try await Self.insert(firstVersion, objectID: object.id, number: 1, connection)
                try await Self.append(events, connection)
                return .created(purgedHolder: purged)
            }
        } catch is NameTakenMeanwhile {
            // Another process inserted the name meanwhile: say who holds it now.
            let holder = try await withConnection { connection in
                try await connection.rows(
                    """
                    SELECT deleted_at, purge_at FROM objects
                    WHERE environment_id = \(object.environmentID) AND name = \(object.name)
                    """
                ).first.map { try $0.decode((Int64?, Int64?).self) }
            }
            if let (deletedAt, purgeAt) = holder, deletedAt != nil { return .nameHeld(purgeAt: purgeAt ?? now) }
            return .nameInUse
        }
    }

    /// Another transaction inserted the name after this one found it free.
    private struct NameTakenMeanwhile: StorageSignal {}

    /// An object at its current version.
    private static let currentSelection = SQLText(
        """
        SELECT o.id, o.environment_id, o.name, o.key_context, o.updated_at, o.updated_by_id, o.updated_by_name,
               o.current_version_id, v.number, v.data_key_id, v.sealed_value
        FROM objects o JOIN object_versions v ON v.id = o.current_version_id
        """
    )

    /// An object at any of its versions, with that version's own writer and instant.
    private static let versionSelection = SQLText(
        """
        SELECT o.id, o.environment_id, o.name, o.key_context, v.created_at, v.created_by_id, v.created_by_name,
               v.id, v.number, v.data_key_id, v.sealed_value
        FROM objects o JOIN object_versions v ON v.object_id = o.id
        """
    )

    package func object(
        _ lookup: ObjectLookup,
        environmentID: String,
        contextJSON: String?
    ) async throws
        -> StoredObject?
    {
        let query: StorageQuery
        switch lookup {
        case .id(let id):
            query = """
                \(Self.currentSelection) WHERE o.id = \(id) AND o.environment_id = \(environmentID)
                AND o.deleted_at IS NULL AND (\(contextJSON)::text IS NULL OR o.key_context = \(contextJSON))
                """
        case .name(let name):
            query = """
                \(Self.currentSelection) WHERE o.name = \(name) AND o.environment_id = \(environmentID)
                AND o.deleted_at IS NULL AND (\(contextJSON)::text IS NULL OR o.key_context = \(contextJSON))
                """
        case .version(let objectID, .id(let versionID)):
            query = """
                \(Self.versionSelection) WHERE o.id = \(objectID) AND v.id = \(versionID)
                AND o.environment_id = \(environmentID)
                AND o.deleted_at IS NULL AND (\(contextJSON)::text IS NULL OR o.key_context = \(contextJSON))
                """
        case .version(let objectID, .number(let number)):
            query = """
                \(Self.versionSelection) WHERE o.id = \(objectID) AND v.number = \(number)
                AND o.environment_id = \(environmentID)
                AND o.deleted_at IS NULL AND (\(contextJSON)::text IS NULL OR o.key_context = \(contextJSON))
                """
        }
        return try await withConnection { connection in
            try await connection.rows(query).first.map { row in
                let (
                    id, environment, name, context, updatedAt, actorID, actorName, versionID, number, dataKeyID, sealed
                ) =
                    try row.decode(
                        (String, String, String, String, Int64, String, String, String, Int, String, ByteBuffer).self
                    )
                return StoredObject(
                    id: id,
                    environmentID: environment,
                    name: name,
                    contextJSON: context,
                    updatedAt: updatedAt,
                    actor: VaultActor(id: actorID, name: actorName),
                    versionID: versionID,
                    versionNumber: number,
                    dataKeyID: dataKeyID,
                    sealedValue: sealed.bytes
                )
            }
        }
    }

    package func updateObject(
        id: String,
        environmentID: String,
        version: NewObjectVersion,
        versionCheck: String?,
        expectedVersion: Int?,
        events: [NewVaultEvent]
    ) async throws -> UpdateObjectOutcome {
        try await inTransaction { connection in
            // The check and the switch are one statement; its row lock makes concurrent updaters
            // wait, then re-check against the row they find (READ COMMITTED): one check wins.
            let updated = try await connection.rows(
                """
                UPDATE objects SET current_version_id = \(version.id), updated_at = \(version.createdAt),
                                   updated_by_id = \(version.actor.id), updated_by_name = \(version.actor.name)
                WHERE id = \(id) AND environment_id = \(environmentID) AND deleted_at IS NULL
                  AND (\(versionCheck)::text IS NULL OR current_version_id = \(versionCheck))
                  AND (\(expectedVersion)::bigint IS NULL
                       OR (SELECT number FROM object_versions WHERE id = objects.current_version_id) = \(expectedVersion))
                RETURNING id
                """
            )
            guard !updated.isEmpty else {
                let live = try await connection.rows(
                    "SELECT 1 FROM objects WHERE id = \(id) AND environment_id = \(environmentID) AND deleted_at IS NULL"
                )
                return live.isEmpty ? .notFound : .conflict
            }
            // The row lock is held until commit: no other transaction numbers a version of it meanwhile.
            try await connection.run(
                """
                INSERT INTO object_versions (id, object_id, number, created_at, created_by_id, created_by_name,
                                             size, etag, data_key_id, sealed_value)
                SELECT \(version.id), \(id), COALESCE(MAX(number), 0) + 1, \(version.createdAt), \(version.actor.id),
                       \(version.actor.name), \(version.size), \(version.etag), \(version.dataKeyID),
                       \(version.sealedValue)
                FROM object_versions WHERE object_id = \(id)
                """
            )
            try await Self.append(events, connection)
            return .updated
        }
    }

    package func deleteObject(
        id: String,
        environmentID: String,
        contextJSON: String?,
        versionCheck: String?,
        deletedAt: Int64,
        purgeAt: Int64?,
        events: DeletedObjectEvents?
    ) async throws -> DeleteObjectOutcome {
        // A transaction only when events go with the delete: alone, it is one statement.
        let run:
            (@escaping @Sendable (PostgresConnection) async throws -> DeleteObjectOutcome) async throws ->
                DeleteObjectOutcome =
                events == nil ? { try await self.withConnection($0) } : { try await self.inTransaction($0) }
        return try await run { connection in
            let deleted: [PostgresRow]
            if let purgeAt {
                deleted = try await connection.rows(
                    """
                    UPDATE objects SET deleted_at = \(deletedAt), purge_at = \(purgeAt)
                    WHERE id = \(id) AND environment_id = \(environmentID) AND deleted_at IS NULL
                      AND (\(contextJSON)::text IS NULL OR key_context = \(contextJSON))
                      AND (\(versionCheck)::text IS NULL OR current_version_id = \(versionCheck))
                    RETURNING name, key_context
                    """
                )
            } else {
                // Its versions go with it (ON DELETE CASCADE).
                deleted = try await connection.rows(
                    """
                    DELETE FROM objects
                    WHERE id = \(id) AND environment_id = \(environmentID) AND deleted_at IS NULL
                      AND (\(contextJSON)::text IS NULL OR key_context = \(contextJSON))
                      AND (\(versionCheck)::text IS NULL OR current_version_id = \(versionCheck))
                    RETURNING name, key_context
                    """
                )
            }
            if let row = deleted.first {
                let (name, contextJSON) = try row.decode((String, String).self)
                if let events { try await Self.append(try events.make(name, contextJSON), connection) }
                return .deleted(name: name, purged: purgeAt == nil)
            }
            let live = try await connection.rows(
                """
                SELECT 1 FROM objects WHERE id = \(id) AND environment_id = \(environmentID) AND deleted_at IS NULL
                AND (\(contextJSON)::text IS NULL OR key_context = \(contextJSON))
                """
            )
            return live.isEmpty || versionCheck == nil ? .notFound : .conflict
        }
    }

    package func purgeObjects(_ selection: PurgeSelection) async throws -> Int {
        try await inTransaction { connection in
            let locked = try await connection.rows("SELECT pg_try_advisory_xact_lock(\(Self.purgeLock))")
            guard try locked[0].decode(Bool.self) else { return 0 }
            let purged: [PostgresRow]
            switch selection {
            case .due(let now):
                purged = try await connection.rows(
                    "DELETE FROM objects WHERE deleted_at IS NOT NULL AND purge_at <= \(now) RETURNING id"
                )
            case .deletedBefore(let cutoff):
                purged = try await connection.rows(
                    "DELETE FROM objects WHERE deleted_at IS NOT NULL AND deleted_at <= \(cutoff) RETURNING id"
                )
            }
            return purged.count
        }
    }

    package func pendingPurges() async throws -> Int {
        try await withConnection { connection in
            try await connection.rows("SELECT COUNT(*) FROM objects WHERE deleted_at IS NOT NULL")[0].decode(Int.self)
        }
    }

    package func versions(ofObject id: String) async throws -> [StoredVersionSummary] {
        try await withConnection { connection in
            try await connection.rows(
                """
                SELECT id, number, created_at, size, etag FROM object_versions
                WHERE object_id = \(id) ORDER BY number DESC
                """
            ).map { row in
                let (versionID, number, createdAt, size, etag) = try row.decode((String, Int, Int64, Int, String).self)
                return StoredVersionSummary(id: versionID, number: number, createdAt: createdAt, size: size, etag: etag)
            }
        }
    }

    package func listObjects(_ filter: ObjectListFilter) async throws -> [ObjectSummary]? {
        let search = filter.search.flatMap { $0.isEmpty ? nil : $0 }
        let order = filter.ascending ? SQLText("ASC") : SQLText("DESC")
        let after = filter.ascending ? SQLText(">") : SQLText("<")
        // One statement (one snapshot): the cursor is resolved with the page, and the one row
        // that always comes back tells whether it names an object of the environment.
        let query: StorageQuery = """
            WITH page AS (
                SELECT o.id, o.name, o.updated_at, o.created_at FROM objects o
                WHERE o.environment_id = \(filter.environmentID) AND o.deleted_at IS NULL
                  AND (\(filter.contextJSON)::text IS NULL OR o.key_context = \(filter.contextJSON))
                  AND (\(search)::text IS NULL
                       OR strpos(lower(o.name COLLATE "C"), lower(\(search) COLLATE "C")) > 0)
                  AND (\(filter.updatedAfter)::bigint IS NULL OR o.updated_at > \(filter.updatedAfter))
                  AND (\(filter.cursorID)::text IS NULL OR (o.created_at, o.id) \(after) (
                        (SELECT c.created_at FROM objects c
                         WHERE c.id = \(filter.cursorID) AND c.environment_id = \(filter.environmentID)),
                        \(filter.cursorID)))
                ORDER BY o.created_at \(order), o.id \(order)
                LIMIT \(filter.limit + 1)
            )
            SELECT \(filter.cursorID)::text IS NULL
                   OR EXISTS (SELECT 1 FROM objects c
                              WHERE c.id = \(filter.cursorID) AND c.environment_id = \(filter.environmentID)),
                   page.id, page.name, page.updated_at
            FROM (VALUES (1)) AS one LEFT JOIN page ON true
            ORDER BY page.created_at \(order), page.id \(order)
            """
        return try await withConnection { connection in
            let rows = try await connection.rows(query)
            guard let first = rows.first, try first.decode(Bool.self) else { return nil }
            return try rows.compactMap { row in
                let (_, id, name, updatedAt) = try row.decode((Bool, String?, String?, Int64?).self)
                guard let id, let name, let updatedAt else { return nil }
                return ObjectSummary(
                    id: id,
                    name: name,
                    updatedAt: Date(timeIntervalSince1970: Double(updatedAt) / 1000)
                )
            }
        }
    }

    package func objectVersions(after afterID: String?, limit: Int) async throws -> [StoredVersionValue] {
        try await withConnection { connection in
            try await connection.rows(
                """
                SELECT v.id, v.object_id, o.environment_id, o.key_context, v.sealed_value
                FROM object_versions v JOIN objects o ON o.id = v.object_id
                WHERE (\(afterID)::text IS NULL OR v.id > \(afterID))
                ORDER BY v.id LIMIT \(limit)
                """
            ).map { row in
                let (id, objectID, environmentID, context, sealed) = try row.decode(
                    (String, String, String, String, ByteBuffer).self
                )
                return StoredVersionValue(
                    id: id,
                    objectID: objectID,
                    environmentID: environmentID,
                    contextJSON: context,
                    sealedValue: sealed.bytes
                )
            }
        }
    }

    package func replaceSealedValues(_ replacements: [SealedValueReplacement]) async throws -> Int {
        guard !replacements.isEmpty else { return 0 }
        return try await inTransaction { connection in
            var changed = 0
            for replacement in replacements {
                // Only if it still holds the bytes read: a concurrent update is never overwritten.
                changed += try await connection.rows(
                    """
                    UPDATE object_versions SET sealed_value = \(replacement.new)
                    WHERE id = \(replacement.versionID) AND sealed_value = \(replacement.old)
                    RETURNING 1
                    """
                ).count
            }
            return changed
        }
    }

    private static func insert(
        _ version: NewObjectVersion,
        objectID: String,
        number: Int,
        _ connection: PostgresConnection
    ) async throws {
        try await connection.run(
            """
            INSERT INTO object_versions (id, object_id, number, created_at, created_by_id, created_by_name,
                                         size, etag, data_key_id, sealed_value)
            VALUES (\(version.id), \(objectID), \(number), \(version.createdAt), \(version.actor.id),
                    \(version.actor.name), \(version.size), \(version.etag), \(version.dataKeyID),
                    \(version.sealedValue))
            """
        )
    }
}
