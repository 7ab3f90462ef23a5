import Foundation
import GRDB

/// Idempotency records of the requests that change the store (`POST /kv`).
extension SQLiteStorage {
    func claimIdempotencyKey(
        scope: String,
        key: String,
        requestHash: String,
        now: Int64,
        leaseExpiredBefore: Int64
    ) async throws -> StoredIdempotencyRecord? {
        let insert = try StatementArguments.checked([scope, key, requestHash, now])
        let takeOver = try StatementArguments.checked([requestHash, now, scope, key, leaseExpiredBefore])
        let select = try StatementArguments.checked([scope, key])
        return try await write { db -> StoredIdempotencyRecord? in
            try db.execute(
                sql: """
                    INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT DO NOTHING
                    """,
                arguments: insert
            )
            if db.changesCount == 1 { return nil }
            // Take over a claim whose request died before finishing.
            try db.execute(
                sql: """
                    UPDATE idempotency_keys SET request_hash = ?, created_at = ?
                    WHERE scope = ? AND key = ? AND status IS NULL AND created_at < ?
                    """,
                arguments: takeOver
            )
            if db.changesCount == 1 { return nil }
            return try Row.fetchOne(
                db,
                sql: "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = ? AND key = ?",
                arguments: select
            ).map {
                StoredIdempotencyRecord(
                    requestHash: $0["request_hash"],
                    status: $0["status"],
                    sealedBody: ($0["body"] as Data?).map(Array.init)
                )
            }
        }
    }

    func completeIdempotencyKey(scope: String, key: String, status: Int, sealedBody: [UInt8]) async throws {
        let arguments = try StatementArguments.checked([status, Data(sealedBody), scope, key])
        try await write { db in
            try db.execute(
                sql: "UPDATE idempotency_keys SET status = ?, body = ? WHERE scope = ? AND key = ?",
                arguments: arguments
            )
        }
    }

    func releaseIdempotencyKey(scope: String, key: String) async throws {
        let arguments = try StatementArguments.checked([scope, key])
        try await write { db in
            try db.execute(
                sql: "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND status IS NULL",
                arguments: arguments
            )
        }
    }

    func expireIdempotencyRecords(createdBefore cutoff: Int64) async throws {
        let arguments = try StatementArguments.checked([cutoff])
        try await write { db in
            try db.execute(sql: "DELETE FROM idempotency_keys WHERE created_at < ?", arguments: arguments)
        }
    }
}
