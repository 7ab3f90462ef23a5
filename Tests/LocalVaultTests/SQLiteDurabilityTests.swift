import GRDB
import Testing

@testable import LocalVault

/// The SQLite store syncs every commit before it returns (`synchronous = FULL`), so that an
/// acknowledged write survives a power cut, not only a crash of the process.
@Suite struct SQLiteDurabilityTests {
    @Test("the writer connection runs with synchronous = FULL (GRDB's WAL setup leaves NORMAL)")
    func writerSyncsEveryCommit() async throws {
        let temporary = try await TemporaryVault(.sqlite)
        let level = try await temporary.vault.store.pool.writeWithoutTransaction { db in
            try Int.fetchOne(db, sql: "PRAGMA synchronous")
        }
        // 2 is FULL; NORMAL (1) syncs the WAL only at checkpoints.
        #expect(level == 2)
        let journal = try await temporary.vault.store.pool.read { db in
            try String.fetchOne(db, sql: "PRAGMA journal_mode")
        }
        #expect(journal == "wal")
    }
}
