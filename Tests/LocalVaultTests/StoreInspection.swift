import Foundation
import GRDB

@testable import LocalVault

/// What the behaviour tests read or damage in the store directly, behind the engine's back.
// These go through the SQLite store (`vault.store`) today; once the engine sits on `VaultStorage`,
// each goes through it (`kek(id:environmentID:)`, `objectVersions(after:limit:)`,
// `replaceSealedValues(_:)`, ...) and so holds for every backend.
extension TemporaryVault {
    /// The version of the KEK with this id, nil when there is none.
    func kekVersion(id: String) async throws -> Int? {
        try await vault.store.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT version FROM keks WHERE id = ?", arguments: [id])
        }
    }

    /// The versions of every KEK, in order.
    func kekVersions() async throws -> [Int] {
        try await vault.store.pool.read { db in
            try Int.fetchAll(db, sql: "SELECT version FROM keks ORDER BY version")
        }
    }

    /// The sealed value of every stored object version, by version id.
    func sealedValues() async throws -> [String: [UInt8]] {
        try await vault.store.pool.read { db in
            Dictionary(
                uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT id, sealed_value FROM object_versions").map {
                    ($0["id"] as String, Array($0["sealed_value"] as Data))
                }
            )
        }
    }

    /// The etag of every stored object version, in the order of their ids.
    func etags() async throws -> [String] {
        try await vault.store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT etag FROM object_versions ORDER BY id")
        }
    }

    /// Replaces every stored sealed value with one byte: opening any of them fails afterwards.
    func damageSealedValues() async throws {
        try await vault.store.pool.write { db in
            try db.execute(sql: "UPDATE object_versions SET sealed_value = x'00'")
        }
    }

    /// The key context of an object as the store keeps it.
    func storedKeyContext(ofObject id: String) async throws -> String? {
        try await vault.store.pool.read { db in
            try String.fetchOne(db, sql: "SELECT key_context FROM objects WHERE id = ?", arguments: [id])
        }
    }

    /// Rows of `objects`, deleted ones included.
    func objectRows() async throws -> Int {
        try await vault.store.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM objects") ?? 0 }
    }

    /// Rows of `object_versions`.
    func versionRows() async throws -> Int {
        try await vault.store.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM object_versions") ?? 0 }
    }
}
