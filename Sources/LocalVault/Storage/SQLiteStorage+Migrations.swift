import Foundation
import GRDB
import VaultAPI

extension SQLiteStorage {
    /// Versioned schema migrations; a store opened by a newer build is migrated forward on start.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: keks, objects, versions, idempotency") { db in
            try db.execute(
                sql: """
                    CREATE TABLE keks (
                        id TEXT PRIMARY KEY,
                        environment_id TEXT NOT NULL,
                        context_key TEXT NOT NULL,
                        context_value TEXT NOT NULL,
                        wrapped_key BLOB NOT NULL,
                        created_at INTEGER NOT NULL,
                        UNIQUE (environment_id, context_key, context_value)
                    );
                    CREATE TABLE objects (
                        id TEXT PRIMARY KEY,
                        environment_id TEXT NOT NULL,
                        name TEXT NOT NULL,
                        key_context TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        updated_by_id TEXT NOT NULL,
                        updated_by_name TEXT NOT NULL,
                        current_version_id TEXT NOT NULL,
                        deleted_at INTEGER
                    );
                    CREATE UNIQUE INDEX objects_live_name ON objects (environment_id, name) WHERE deleted_at IS NULL;
                    CREATE INDEX objects_by_creation ON objects (environment_id, created_at, id);
                    CREATE TABLE object_versions (
                        id TEXT PRIMARY KEY,
                        object_id TEXT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
                        created_at INTEGER NOT NULL,
                        size INTEGER NOT NULL,
                        etag TEXT NOT NULL,
                        data_key_id TEXT NOT NULL,
                        sealed_value BLOB NOT NULL
                    );
                    CREATE INDEX versions_by_object ON object_versions (object_id, created_at);
                    CREATE TABLE idempotency_keys (
                        scope TEXT NOT NULL,
                        key TEXT NOT NULL,
                        request_hash TEXT NOT NULL,
                        status INTEGER,
                        body BLOB,
                        created_at INTEGER NOT NULL,
                        PRIMARY KEY (scope, key)
                    );
                    """
            )
        }
        migrator.registerMigration("v2: idempotency expiry index") { db in
            // Every claim deletes expired keys: without this index that is a scan of the table.
            try db.execute(sql: "CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at)")
        }
        migrator.registerMigration("v3: meta table with the root key check") { db in
            // Named values about the store itself; `root_key_check` proves which root key it was
            // written under (see RootKeyCheck).
            try db.execute(sql: "CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
        }
        migrator.registerMigration("v4: keks_quarantine") { db in
            // KEK rows that do not open under their own associated data (stored cut at a NUL by
            // older builds) are moved here, kept rather than deleted; see KEKRing.
            try db.execute(
                sql: """
                    CREATE TABLE keks_quarantine (
                        id TEXT PRIMARY KEY,
                        environment_id TEXT NOT NULL,
                        context_key TEXT NOT NULL,
                        context_value TEXT NOT NULL,
                        wrapped_key BLOB NOT NULL,
                        created_at INTEGER NOT NULL,
                        quarantined_at INTEGER NOT NULL
                    )
                    """
            )
        }
        migrator.registerMigration("v5: canonical key contexts, version numbers") { db in
            // Objects are looked up and listed by exact context (same pairs, byte for byte): the
            // column holds KeyContext.canonicalJSON so that the lookup is one equality. Rows
            // written before held JSONEncoder's output, whose key order was not fixed.
            let rows = try Row.fetchAll(db, sql: "SELECT id, key_context FROM objects")
            for row in rows {
                let stored: String = row["key_context"]
                let context = try JSONDecoder().decode(KeyContext.self, from: Data(stored.utf8))
                let canonical = context.canonicalJSON
                guard !canonical.utf8.elementsEqual(stored.utf8) else { continue }
                try db.execute(
                    sql: "UPDATE objects SET key_context = ? WHERE id = ?",
                    arguments: try StatementArguments.checked([canonical, row["id"] as String])
                )
            }
            try db.execute(
                sql: """
                    CREATE INDEX objects_by_context ON objects (environment_id, key_context, created_at, id)
                    WHERE deleted_at IS NULL
                    """
            )
            // Each version gets a number (1 at creation, one more per update) and its writer.
            // Existing versions are numbered in the order they were written; their writer is
            // known only for the current version (the object's last writer).
            try db.execute(
                sql: """
                    ALTER TABLE object_versions ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE object_versions ADD COLUMN created_by_id TEXT NOT NULL DEFAULT 'unknown';
                    ALTER TABLE object_versions ADD COLUMN created_by_name TEXT NOT NULL DEFAULT 'unknown';
                    UPDATE object_versions SET number = (
                        SELECT COUNT(*) FROM object_versions AS earlier
                        WHERE earlier.object_id = object_versions.object_id
                          AND (earlier.created_at < object_versions.created_at
                               OR (earlier.created_at = object_versions.created_at
                                   AND earlier.rowid <= object_versions.rowid))
                    );
                    UPDATE object_versions SET
                        created_by_id = (SELECT updated_by_id FROM objects WHERE current_version_id = object_versions.id),
                        created_by_name = (SELECT updated_by_name FROM objects WHERE current_version_id = object_versions.id)
                    WHERE id IN (SELECT current_version_id FROM objects);
                    CREATE UNIQUE INDEX versions_by_number ON object_versions (object_id, number);
                    """
            )
        }
        migrator.registerMigration("v6: deleted objects hold their name until purged") { db in
            // A deleted object keeps its name until `purge_at`, so the unique index now covers
            // every row: a create racing a delete is refused by the database itself. Deleted rows
            // of older builds held no name (a live object may have reused it): they are purged
            // here rather than made to hold one.
            try db.execute(
                sql: """
                    ALTER TABLE objects ADD COLUMN purge_at INTEGER;
                    DELETE FROM object_versions WHERE object_id IN (SELECT id FROM objects WHERE deleted_at IS NOT NULL);
                    DELETE FROM objects WHERE deleted_at IS NOT NULL;
                    DROP INDEX objects_live_name;
                    CREATE UNIQUE INDEX objects_name ON objects (environment_id, name);
                    CREATE INDEX objects_by_purge ON objects (purge_at) WHERE deleted_at IS NOT NULL;
                    """
            )
        }
        migrator.registerMigration("v7: KEK versions") { db in
            // Each pair's KEK gets versions 1...n (existing rows are version 1) and may be retired
            // (`retired_at`: it no longer unwraps). SQLite cannot drop the old table-level unique
            // (pair) constraint, so the table is rebuilt.
            try db.execute(
                sql: """
                    CREATE TABLE keks_versioned (
                        id TEXT PRIMARY KEY,
                        environment_id TEXT NOT NULL,
                        context_key TEXT NOT NULL,
                        context_value TEXT NOT NULL,
                        version INTEGER NOT NULL DEFAULT 1,
                        wrapped_key BLOB NOT NULL,
                        created_at INTEGER NOT NULL,
                        retired_at INTEGER,
                        UNIQUE (environment_id, context_key, context_value, version)
                    );
                    INSERT INTO keks_versioned (id, environment_id, context_key, context_value, version, wrapped_key,
                                                created_at)
                    SELECT id, environment_id, context_key, context_value, 1, wrapped_key, created_at FROM keks;
                    DROP TABLE keks;
                    ALTER TABLE keks_versioned RENAME TO keks;
                    """
            )
        }
        migrator.registerMigration("v8: events") { db in
            // The audit trail (see EventRows.swift): one hash chain per environment. The head
            // keeps the chain's end when old events are purged.
            try db.execute(
                sql: """
                    CREATE TABLE events (
                        environment_id TEXT NOT NULL,
                        sequence INTEGER NOT NULL,
                        id TEXT NOT NULL UNIQUE,
                        type TEXT NOT NULL,
                        data TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        organization_id TEXT,
                        prev_hash TEXT NOT NULL,
                        hash TEXT NOT NULL,
                        PRIMARY KEY (environment_id, sequence)
                    );
                    CREATE INDEX events_by_age ON events (created_at);
                    CREATE TABLE event_chain_heads (
                        environment_id TEXT PRIMARY KEY,
                        sequence INTEGER NOT NULL,
                        hash TEXT NOT NULL
                    );
                    """
            )
        }
        return migrator
    }
}
