import Foundation
import GRDB

@testable import LocalVault

/// What the behaviour tests read or damage in the store directly, behind the engine's back: plain
/// SQL that both backends accept, through GRDB for SQLite and PostgresNIO for PostgreSQL.
extension TemporaryVault {
    /// The rows of one statement (values inlined by the caller: ids are our own UUIDs), as text.
    private func rows(_ sql: String) async throws -> [[String]] {
        if let databaseURL { return try await TestDatabase.rows(databaseURL, sql) }
        return try await vault.store.pool.write { db in
            try Row.fetchAll(db, sql: sql).map { row in
                row.databaseValues.map { value in
                    switch value.storage {
                    case .null: ""
                    case .int64(let number): String(number)
                    case .double(let number): String(number)
                    case .string(let text): text
                    case .blob(let data): data.map { String(format: "%02x", $0) }.joined()
                    }
                }
            }
        }
    }

    /// A blob column as lowercase hex on both backends.
    private func hex(_ column: String) -> String {
        databaseURL == nil ? "lower(hex(\(column)))" : "encode(\(column), 'hex')"
    }

    /// The version of the KEK with this id, nil when there is none.
    func kekVersion(id: String) async throws -> Int? {
        try await rows("SELECT version FROM keks WHERE id = '\(id)'").first.flatMap { Int($0[0]) }
    }

    /// The versions of every KEK, in order.
    func kekVersions() async throws -> [Int] {
        try await rows("SELECT version FROM keks ORDER BY version").compactMap { Int($0[0]) }
    }

    /// The sealed value of every stored object version, by version id.
    func sealedValues() async throws -> [String: [UInt8]] {
        Dictionary(
            uniqueKeysWithValues: try await rows("SELECT id, \(hex("sealed_value")) FROM object_versions").map {
                ($0[0], Self.bytes(hex: $0[1]))
            }
        )
    }

    /// The etag of every stored object version, in the order of their ids.
    func etags() async throws -> [String] {
        try await rows("SELECT etag FROM object_versions ORDER BY id").map { $0[0] }
    }

    /// Replaces every stored sealed value with one byte: opening any of them fails afterwards.
    func damageSealedValues() async throws {
        let oneByte = databaseURL == nil ? "x'00'" : "'\\x00'::bytea"
        _ = try await rows("UPDATE object_versions SET sealed_value = \(oneByte)")
    }

    /// The key context of an object as the store keeps it.
    func storedKeyContext(ofObject id: String) async throws -> String? {
        try await rows("SELECT key_context FROM objects WHERE id = '\(id)'").first?[0]
    }

    /// Rows of `objects`, deleted ones included.
    func objectRows() async throws -> Int {
        Int(try await rows("SELECT COUNT(*) FROM objects").first?[0] ?? "") ?? 0
    }

    /// Rows of `object_versions`.
    func versionRows() async throws -> Int {
        Int(try await rows("SELECT COUNT(*) FROM object_versions").first?[0] ?? "") ?? 0
    }

    private static func bytes(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }
}
