import GRDB

extension SQLiteStorage {
    /// A read of the `meta` table: it opens a read transaction on the store's file.
    func checkAvailable() async throws {
        try await read { db in _ = try Row.fetchOne(db, sql: "SELECT 1 FROM meta LIMIT 1") }
    }
}
