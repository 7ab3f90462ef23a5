import Foundation
import GRDB
import Testing

@testable import LocalVault

/// A full disk is named as such: the engine's storage failure says "disk full" (a 500 without
/// details for clients; the server logs the message).
@Suite struct DiskFullTests {
    @Test("a write into a full store maps to a disk-full error")
    func fullStoreIsDiskFull() async throws {
        let temporary = try await TemporaryVault(.sqlite)
        let vault = temporary.vault
        _ = try await vault.createObject(name: "first", value: "v", context: ["k": "v"], caller: .alice)
        try await DiskFullTests.fill(vault)
        do {
            _ = try await vault.createObject(
                name: "second",
                value: String(repeating: "x", count: 200_000),
                context: ["k": "v"],
                caller: .alice
            )
            Issue.record("a write into a full store succeeded")
        } catch {
            let mapped = try #require(LocalVaultError(storageFailure: error), "\(error)")
            #expect(mapped.rule == .diskFull)
            #expect(mapped.httpStatus == 500)
            #expect(mapped.message.hasPrefix("disk full"))
            #expect(!mapped.message.contains("xxxx"))
        }
    }

    @Test("other storage failures are named by SQLite code; other errors are not storage failures")
    func otherFailures() {
        let busy = LocalVaultError(storageFailure: DatabaseError(resultCode: .SQLITE_BUSY, message: "locked"))
        #expect(busy?.kind == .unavailable)
        #expect(busy?.httpStatus == 503)
        #expect(busy?.message == "the store is unavailable, retry later (SQLite 5)")
        let corrupt = LocalVaultError(storageFailure: DatabaseError(resultCode: .SQLITE_CORRUPT, message: "corrupt"))
        #expect(corrupt?.rule == .other)
        #expect(corrupt?.message == "storage failure (SQLite 11)")
        let shm = LocalVaultError(storageFailure: DatabaseError(resultCode: .SQLITE_IOERR_SHMSIZE))
        #expect(shm?.rule == .diskFull)
        #expect(LocalVaultError(storageFailure: CancellationError()) == nil)
    }

    /// Caps the store at its current size, as a full volume would.
    static func fill(_ vault: LocalVault) async throws {
        try await vault.store.pool.writeWithoutTransaction { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1
            try db.execute(sql: "PRAGMA max_page_count = \(pages)")
        }
    }
}
