import LocalVault

extension PostgresStorage {
    /// A read of the `meta` table on a pooled connection, within a few seconds (a database that
    /// does not answer is unavailable, not a health check that hangs).
    package func checkAvailable() async throws {
        try await withConnection(bound: .seconds(5)) { connection in
            _ = try await connection.rows("SELECT 1 FROM meta LIMIT 1")
        }
    }
}
