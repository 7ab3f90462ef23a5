import PostgresNIO

/// The schema: the SQLite store's (v7) in PostgreSQL types (TEXT, BIGINT milliseconds, BYTEA,
/// INTEGER), with the same tables and unique constraints, versioned in `schema_migrations`.
///
/// Migrations run in one transaction under an advisory lock, so that instances starting at once
/// migrate once: the others wait, then find the versions applied. Versions this build does not
/// know (a newer build migrated) are left alone, so that instances can be upgraded one at a time.
enum PostgresSchema {
    struct Migration {
        let version: Int
        let name: String
        /// One statement each (the extended protocol takes one at a time).
        let statements: [SQLText]
    }

    /// The key of the advisory lock migrations run under (an arbitrary constant of this module).
    static let migrationLock: Int64 = 0x4C56_4D49_4752_0001

    static let migrations: [Migration] = [
        Migration(
            version: 1,
            name: "the SQLite v7 schema",
            statements: [
                // Ids are compared and ordered byte for byte (as SQLite does): the C collation.
                SQLText(
                    """
                    CREATE TABLE keks (
                        id TEXT COLLATE "C" PRIMARY KEY,
                        environment_id TEXT NOT NULL,
                        context_key TEXT NOT NULL,
                        context_value TEXT NOT NULL,
                        version INTEGER NOT NULL DEFAULT 1,
                        wrapped_key BYTEA NOT NULL,
                        created_at BIGINT NOT NULL,
                        retired_at BIGINT,
                        CONSTRAINT keks_pair_version UNIQUE (environment_id, context_key, context_value, version)
                    )
                    """
                ),
                // The version is kept too: it is part of what a KEK's wrapping is bound to.
                SQLText(
                    """
                    CREATE TABLE keks_quarantine (
                        id TEXT COLLATE "C" PRIMARY KEY,
                        environment_id TEXT NOT NULL,
                        context_key TEXT NOT NULL,
                        context_value TEXT NOT NULL,
                        version INTEGER NOT NULL DEFAULT 1,
                        wrapped_key BYTEA NOT NULL,
                        created_at BIGINT NOT NULL,
                        quarantined_at BIGINT NOT NULL
                    )
                    """
                ),
                // A deleted object keeps its name until purged: the unique constraint covers every row.
                SQLText(
                    """
                    CREATE TABLE objects (
                        id TEXT COLLATE "C" PRIMARY KEY,
                        environment_id TEXT NOT NULL,
                        name TEXT NOT NULL,
                        key_context TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        updated_at BIGINT NOT NULL,
                        updated_by_id TEXT NOT NULL,
                        updated_by_name TEXT NOT NULL,
                        current_version_id TEXT COLLATE "C" NOT NULL,
                        deleted_at BIGINT,
                        purge_at BIGINT,
                        CONSTRAINT objects_name UNIQUE (environment_id, name)
                    )
                    """
                ),
                SQLText("CREATE INDEX objects_by_creation ON objects (environment_id, created_at, id)"),
                SQLText(
                    """
                    CREATE INDEX objects_by_context ON objects (environment_id, key_context, created_at, id)
                    WHERE deleted_at IS NULL
                    """
                ),
                SQLText("CREATE INDEX objects_by_purge ON objects (purge_at) WHERE deleted_at IS NOT NULL"),
                SQLText(
                    """
                    CREATE TABLE object_versions (
                        id TEXT COLLATE "C" PRIMARY KEY,
                        object_id TEXT COLLATE "C" NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
                        number INTEGER NOT NULL,
                        created_at BIGINT NOT NULL,
                        created_by_id TEXT NOT NULL,
                        created_by_name TEXT NOT NULL,
                        size BIGINT NOT NULL,
                        etag TEXT NOT NULL,
                        data_key_id TEXT NOT NULL,
                        sealed_value BYTEA NOT NULL,
                        CONSTRAINT versions_by_number UNIQUE (object_id, number)
                    )
                    """
                ),
                SQLText(
                    """
                    CREATE TABLE idempotency_keys (
                        scope TEXT NOT NULL,
                        key TEXT NOT NULL,
                        request_hash TEXT NOT NULL,
                        status INTEGER,
                        body BYTEA,
                        created_at BIGINT NOT NULL,
                        PRIMARY KEY (scope, key)
                    )
                    """
                ),
                SQLText("CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at)"),
                SQLText("CREATE TABLE meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL)"),
            ]
        ),
        Migration(
            version: 2,
            name: "events",
            statements: [
                // The audit trail (see EventRows.swift): one hash chain per environment, whose head
                // row is locked by every append, so that instances append one after the other.
                SQLText(
                    """
                    CREATE TABLE events (
                        environment_id TEXT NOT NULL,
                        sequence BIGINT NOT NULL,
                        id TEXT COLLATE "C" NOT NULL UNIQUE,
                        type TEXT NOT NULL,
                        data TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        organization_id TEXT,
                        prev_hash TEXT NOT NULL,
                        hash TEXT NOT NULL,
                        PRIMARY KEY (environment_id, sequence)
                    )
                    """
                ),
                SQLText("CREATE INDEX events_by_age ON events (created_at)"),
                SQLText(
                    """
                    CREATE TABLE event_chain_heads (
                        environment_id TEXT PRIMARY KEY,
                        sequence BIGINT NOT NULL,
                        hash TEXT NOT NULL
                    )
                    """
                ),
            ]
        ),
    ]

    /// Applies the migrations the database lacks, in one transaction under the migration lock.
    /// - Returns: the versions applied now.
    @discardableResult
    static func migrate(_ connection: PostgresConnection) async throws -> [Int] {
        try await connection.run("BEGIN")
        do {
            try await connection.run("SELECT pg_advisory_xact_lock(\(migrationLock))")
            try await connection.run(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at BIGINT NOT NULL
                )
                """
            )
            var applied = Set<Int>()
            for row in try await connection.rows("SELECT version FROM schema_migrations") {
                applied.insert(try row.decode(Int.self))
            }
            var appliedNow: [Int] = []
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.statements { try await connection.run("\(statement)") }
                try await connection.run(
                    """
                    INSERT INTO schema_migrations (version, name, applied_at)
                    VALUES (\(migration.version), \(migration.name), (extract(epoch FROM now()) * 1000)::bigint)
                    """
                )
                appliedNow.append(migration.version)
            }
            try await connection.run("COMMIT")
            return appliedNow
        } catch {
            try? await connection.run("ROLLBACK")
            throw error
        }
    }
}
