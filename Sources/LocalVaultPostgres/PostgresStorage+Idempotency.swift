import LocalVault
import PostgresNIO

/// Durable idempotency records of the requests that change the store (`POST /kv`).
extension PostgresStorage {
    package func claimIdempotencyKey(
        scope: String,
        key: String,
        requestHash: String,
        now: Int64,
        leaseExpiredBefore: Int64
    ) async throws -> StoredIdempotencyRecord? {
        try await withConnection { connection in
            // Each step is one conditional statement; a record released between two steps is
            // claimed again from the start.
            for _ in 0..<4 {
                let inserted = try await connection.rows(
                    """
                    INSERT INTO idempotency_keys (scope, key, request_hash, created_at)
                    VALUES (\(scope), \(key), \(requestHash), \(now))
                    ON CONFLICT DO NOTHING RETURNING 1
                    """
                )
                if !inserted.isEmpty { return nil }
                // Take over a claim whose request died before finishing.
                let takenOver = try await connection.rows(
                    """
                    UPDATE idempotency_keys SET request_hash = \(requestHash), created_at = \(now)
                    WHERE scope = \(scope) AND key = \(key) AND status IS NULL AND created_at < \(leaseExpiredBefore)
                    RETURNING 1
                    """
                )
                if !takenOver.isEmpty { return nil }
                let held = try await connection.rows(
                    "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = \(scope) AND key = \(key)"
                )
                if let row = held.first {
                    let (hash, status, body) = try row.decode((String, Int?, ByteBuffer?).self)
                    return StoredIdempotencyRecord(requestHash: hash, status: status, sealedBody: body?.bytes)
                }
            }
            throw StorageError.failed("PostgreSQL: the idempotency key could not be claimed (released repeatedly)")
        }
    }

    package func completeIdempotencyKey(scope: String, key: String, status: Int, sealedBody: [UInt8]) async throws {
        try await withConnection { connection in
            try await connection.run(
                """
                UPDATE idempotency_keys SET status = \(status), body = \(sealedBody)
                WHERE scope = \(scope) AND key = \(key)
                """
            )
        }
    }

    package func releaseIdempotencyKey(scope: String, key: String) async throws {
        try await withConnection { connection in
            try await connection.run(
                "DELETE FROM idempotency_keys WHERE scope = \(scope) AND key = \(key) AND status IS NULL"
            )
        }
    }

    package func expireIdempotencyRecords(createdBefore cutoff: Int64) async throws {
        try await withConnection { connection in
            try await connection.run("DELETE FROM idempotency_keys WHERE created_at < \(cutoff)")
        }
    }
}
