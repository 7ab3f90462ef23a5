import LocalVault
import PostgresNIO

/// The root-key check value, its rotation, and the key-encrypting keys.
extension PostgresStorage {
    // MARK: Root key

    package func rootKeyState() async throws -> RootKeyStoreState {
        try await withConnection { connection in
            let meta = try await connection.rows(
                """
                SELECT (SELECT value FROM meta WHERE name = \(MetaName.rootKeyCheck)),
                       (SELECT value FROM meta WHERE name = \(MetaName.rotatedKeyLocation)),
                       EXISTS (SELECT 1 FROM objects)
                """
            )
            let (checkValue, location, holdsObjects) = try meta[0].decode((ByteBuffer?, ByteBuffer?, Bool).self)
            let sample = try await connection.rows(
                "\(Self.kekColumns) FROM keks ORDER BY version, id LIMIT 1"
            ).first.map(Self.kek(from:))
            return RootKeyStoreState(
                checkValue: checkValue?.bytes,
                holdsData: checkValue != nil || sample != nil || holdsObjects,
                sampleKEK: sample,
                rotatedKeyLocation: location.map { String(decoding: $0.readableBytesView, as: UTF8.self) }
            )
        }
    }

    package func recordRootKeyCheck(_ candidate: [UInt8]) async throws -> [UInt8]? {
        try await withConnection { connection in
            // Another process opening the same store at once may record its value first.
            try await connection.run(
                "INSERT INTO meta (name, value) VALUES (\(MetaName.rootKeyCheck), \(candidate)) ON CONFLICT DO NOTHING"
            )
            return try await connection.rows("SELECT value FROM meta WHERE name = \(MetaName.rootKeyCheck)")
                .first.map { try $0.decode(ByteBuffer.self).bytes }
        }
    }

    package func rotateRootKey(
        _ rewrap: RootKeyRewrap,
        newKeyLocation: String,
        beforeCommit: @escaping @Sendable () throws -> Void
    ) async throws -> RootKeyRewrap.Counts {
        do {
            return try await rotateRootKeyRows(rewrap, newKeyLocation: newKeyLocation, beforeCommit: beforeCommit)
        } catch let stopped as StoppedBeforeCommit {
            throw stopped.error
        }
    }

    /// What `beforeCommit` threw, carried out of the transaction as it is.
    private struct StoppedBeforeCommit: StorageSignal {
        let error: any Error
    }

    private func rotateRootKeyRows(
        _ rewrap: RootKeyRewrap,
        newKeyLocation: String,
        beforeCommit: @escaping @Sendable () throws -> Void
    ) async throws -> RootKeyRewrap.Counts {
        // Every KEK and stored response in one transaction: a large store takes a while.
        try await inTransaction(bound: .seconds(3_600)) { connection in
            var counts = RootKeyRewrap.Counts()
            // Locked, so that no KEK version is added and no response stored meanwhile.
            let keks = try await connection.rows("\(Self.kekColumns) FROM keks ORDER BY id FOR UPDATE")
                .map(Self.kek(from:))
            for kek in keks {
                let wrapped = try rewrap.rewrap(kek)
                try await connection.run("UPDATE keks SET wrapped_key = \(wrapped) WHERE id = \(kek.id)")
                counts.keks += 1
            }
            let responses = try await connection.rows(
                "SELECT scope, key, body FROM idempotency_keys ORDER BY scope, key FOR UPDATE"
            )
            for row in responses {
                let (scope, key, body) = try row.decode((String, String, ByteBuffer?).self)
                guard let body else { continue }
                if let resealed = try rewrap.reseal(scope: scope, key: key, sealedBody: body.bytes) {
                    try await connection.run(
                        "UPDATE idempotency_keys SET body = \(resealed) WHERE scope = \(scope) AND key = \(key)"
                    )
                    counts.resealedResponses += 1
                } else {
                    // It no longer opens (altered): a retry of its request runs again.
                    try await connection.run("DELETE FROM idempotency_keys WHERE scope = \(scope) AND key = \(key)")
                    counts.droppedResponses += 1
                }
            }
            for (name, value) in [
                (MetaName.rootKeyCheck, try rewrap.newCheckValue()),
                (MetaName.rotatedKeyLocation, Array(newKeyLocation.utf8)),
            ] {
                try await connection.run(
                    """
                    INSERT INTO meta (name, value) VALUES (\(name), \(value))
                    ON CONFLICT (name) DO UPDATE SET value = excluded.value
                    """
                )
            }
            do {
                try beforeCommit()
            } catch {
                throw StoppedBeforeCommit(error: error)
            }
            return counts
        }
    }

    // MARK: Key-encrypting keys

    static let kekColumns = SQLText(
        "SELECT id, environment_id, context_key, context_value, version, wrapped_key, created_at"
    )

    static func kek(from row: PostgresRow) throws -> StoredKEK {
        let (id, environmentID, contextKey, contextValue, version, wrapped, createdAt) = try row.decode(
            (String, String, String, String, Int, ByteBuffer, Int64).self
        )
        return StoredKEK(
            id: id,
            name: KEKName(environmentID: environmentID, contextKey: contextKey, contextValue: contextValue),
            version: version,
            wrappedKey: wrapped.bytes,
            createdAt: createdAt
        )
    }

    package func insertFirstKEK(_ candidate: StoredKEK, event: NewVaultEvent?) async throws -> StoredKEK? {
        let name = candidate.name
        return try await inTransaction { connection in
            // A concurrent insert of the pair's version 1 makes this one wait for it, then do nothing.
            let inserted = try await connection.rows(
                """
                INSERT INTO keks (id, environment_id, context_key, context_value, version, wrapped_key, created_at)
                VALUES (\(candidate.id), \(name.environmentID), \(name.contextKey), \(name.contextValue), 1,
                        \(candidate.wrappedKey), \(candidate.createdAt))
                ON CONFLICT DO NOTHING RETURNING id
                """
            )
            if let event, !inserted.isEmpty { try await Self.append([event], connection) }
            return try await connection.rows(
                """
                \(Self.kekColumns) FROM keks
                WHERE environment_id = \(name.environmentID) AND context_key = \(name.contextKey)
                  AND context_value = \(name.contextValue) AND retired_at IS NULL
                ORDER BY version DESC LIMIT 1
                """
            ).first.map(Self.kek(from:))
        }
    }

    package func quarantineKEK(id: String, at instant: Int64) async throws {
        try await withConnection { connection in
            try await connection.run(
                """
                WITH moved AS (DELETE FROM keks WHERE id = \(id) RETURNING *)
                INSERT INTO keks_quarantine (id, environment_id, context_key, context_value, version, wrapped_key,
                                             created_at, quarantined_at)
                SELECT id, environment_id, context_key, context_value, version, wrapped_key, created_at, \(instant)
                FROM moved
                ON CONFLICT DO NOTHING
                """
            )
        }
    }

    package func kek(id: String, environmentID: String) async throws -> StoredKEK? {
        try await withConnection { connection in
            try await connection.rows(
                """
                \(Self.kekColumns) FROM keks
                WHERE id = \(id) AND environment_id = \(environmentID) AND retired_at IS NULL
                """
            ).first.map(Self.kek(from:))
        }
    }

    package func insertNextKEKVersion(
        of name: KEKName,
        id: String,
        createdAt: Int64,
        wrap: @escaping @Sendable (Int) throws -> [UInt8]
    ) async throws -> Int {
        // Concurrent rotations of one pair (in any process) wait for each other on a lock of the
        // pair, held to the commit, so that each computes the next version after the last one
        // committed. The unique (pair, version) constraint stays the backstop, retried.
        for _ in 0..<8 {
            let inserted: Int? = try await inTransaction { connection in
                try await connection.run(
                    """
                    SELECT pg_advisory_xact_lock(hashtextextended(
                        \(name.environmentID)::text || '/' || \(name.contextKey)::text || '/' || \(name.contextValue)::text, 0))
                    """
                )
                let newest = try await connection.rows(
                    """
                    SELECT COALESCE(MAX(version), 0) FROM keks
                    WHERE environment_id = \(name.environmentID) AND context_key = \(name.contextKey)
                      AND context_value = \(name.contextValue)
                    """
                )
                let version = try newest[0].decode(Int.self) + 1
                let wrapped = try wrap(version)
                do {
                    try await connection.run(
                        """
                        INSERT INTO keks (id, environment_id, context_key, context_value, version, wrapped_key,
                                          created_at)
                        VALUES (\(id), \(name.environmentID), \(name.contextKey), \(name.contextValue), \(version),
                                \(wrapped), \(createdAt))
                        """
                    )
                } catch  where PostgresFailure.isUniqueViolation(error, constraint: "keks_pair_version") {
                    return nil
                }
                return version
            }
            if let inserted { return inserted }
        }
        throw StorageError.failed("PostgreSQL 23505: no free key-encrypting key version after 8 tries")
    }

    package func newestKEKVersion(of name: KEKName) async throws -> Int? {
        try await withConnection { connection in
            try await connection.rows(
                """
                SELECT MAX(version) FROM keks
                WHERE environment_id = \(name.environmentID) AND context_key = \(name.contextKey)
                  AND context_value = \(name.contextValue)
                """
            )[0].decode(Int?.self)
        }
    }

    package func pairsWithNewestKEK(createdBefore cutoff: Int64) async throws -> [KEKName] {
        try await withConnection { connection in
            try await connection.rows(
                """
                SELECT environment_id, context_key, context_value FROM keks
                GROUP BY environment_id, context_key, context_value
                HAVING MAX(created_at) < \(cutoff)
                """
            ).map { row in
                let (environmentID, contextKey, contextValue) = try row.decode((String, String, String).self)
                return KEKName(environmentID: environmentID, contextKey: contextKey, contextValue: contextValue)
            }
        }
    }

    package func activeKEKIDs(of name: KEKName, below version: Int) async throws -> Set<String> {
        try await withConnection { connection in
            Set(
                try await connection.rows(
                    """
                    SELECT id FROM keks
                    WHERE environment_id = \(name.environmentID) AND context_key = \(name.contextKey)
                      AND context_value = \(name.contextValue) AND version < \(version) AND retired_at IS NULL
                    """
                ).map { try $0.decode(String.self) }
            )
        }
    }

    /// The key of the advisory lock a `--kek-max-age` rotation runs under: one process at a time.
    static let kekRotationLock: Int64 = 0x4C56_524F_5441_0001

    /// Under a transaction-level advisory lock, tried without waiting: an instance that finds
    /// another rotating skips this round (the pairs are no longer due when it next looks).
    package func rotateKEKs(
        newestCreatedBefore cutoff: Int64,
        includes: @escaping @Sendable (KEKName) -> Bool,
        newVersion: @escaping @Sendable (KEKName, Int) throws -> StoredKEK
    ) async throws -> [StoredKEK] {
        try await inTransaction { connection in
            let locked = try await connection.rows("SELECT pg_try_advisory_xact_lock(\(Self.kekRotationLock))")
            guard try locked[0].decode(Bool.self) else { return [] }
            // Read under the lock: a rotation another instance committed a moment ago is seen.
            let pairs = try await connection.rows(
                """
                SELECT environment_id, context_key, context_value, MAX(version) FROM keks
                GROUP BY environment_id, context_key, context_value
                HAVING MAX(created_at) < \(cutoff)
                """
            )
            var inserted: [StoredKEK] = []
            for pair in pairs {
                let (environmentID, contextKey, contextValue, newest) = try pair.decode(
                    (String, String, String, Int).self
                )
                let name = KEKName(environmentID: environmentID, contextKey: contextKey, contextValue: contextValue)
                guard includes(name) else { continue }
                let kek = try newVersion(name, newest + 1)
                try await connection.run(
                    """
                    INSERT INTO keks (id, environment_id, context_key, context_value, version, wrapped_key, created_at)
                    VALUES (\(kek.id), \(environmentID), \(contextKey), \(contextValue), \(kek.version),
                            \(kek.wrappedKey), \(kek.createdAt))
                    """
                )
                inserted.append(kek)
            }
            return inserted
        }
    }

    package func retireKEKs(of name: KEKName, below version: Int, at instant: Int64) async throws -> Int {
        try await withConnection { connection in
            try await connection.rows(
                """
                UPDATE keks SET retired_at = \(instant)
                WHERE environment_id = \(name.environmentID) AND context_key = \(name.contextKey)
                  AND context_value = \(name.contextValue) AND version < \(version) AND retired_at IS NULL
                RETURNING id
                """
            ).count
        }
    }
}
