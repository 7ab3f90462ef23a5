import EnvelopeCrypto
import Foundation
import GRDB
import Testing
import VaultAPI

@testable import LocalVault

/// Every text column of the store holds exactly what was written, byte for byte, and text the
/// store cannot hold exactly (anything with U+0000, which SQLite's C interface cuts) is refused
/// with a typed error rather than stored as another text.
@Suite("Stored text")
struct StoredTextTests {
    /// Varied non-ASCII text: emoji (with a ZWJ sequence and a variation selector), combining
    /// marks, right-to-left scripts, 4-byte UTF-8, and the largest texts the rules allow.
    static let samples: [(label: String, text: String)] = [
        ("emoji", "🔑🗝️👩‍👩‍👧‍👦"),
        ("combining marks", "e\u{301}\u{302}a\u{308}\u{20DD}"),
        ("right to left", "שלום مرحبا \u{200F}"),
        ("4-byte UTF-8", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎𠜱"),
        ("mixed", "naïve café Ω ≠ ∞ 日本語 한국어"),
    ]

    /// The longest text each rule allows, in 4-byte characters: exactly at both caps.
    static let longName = String(repeating: "𠜎", count: ObjectName.maxLength)
    static let longKey = String(repeating: "𠜎", count: KeyContext.maxKeyLength)
    static let longValue = String(repeating: "𠜎", count: KeyContext.maxValueLength)

    @Test("every text column reads back byte for byte", arguments: 0..<samples.count)
    func everyTextColumnReadsBackByteForByte(index: Int) async throws {
        let sample = Self.samples[index].text
        let temporary = try await TemporaryVault(.sqlite)
        let vault = temporary.vault
        let caller = VaultCaller(
            environmentID: "environment_" + sample,
            actor: VaultActor(id: "key_" + sample, name: sample + " sk_…")
        )
        let name = "name " + sample
        let context = KeyContext(["org " + sample: "value " + sample, Self.longKey: Self.longValue])
        let created = try await vault.createObject(name: name, value: "v", context: context, caller: caller)
        let updated = try await vault.updateObject(id: created.id, value: "w", versionCheck: nil, caller: caller)
        let long = try await vault.createObject(
            name: Self.longName,
            value: "v",
            context: ["k": "v"],
            caller: caller
        )
        let versions = try await vault.listVersions(id: created.id, environmentID: caller.environmentID).data

        // Through the API.
        let read = try await vault.readObject(named: name, environmentID: caller.environmentID)
        #expect(Array(read.name.utf8) == Array(name.utf8))
        #expect(read.metadata.context == context)
        #expect(Array(read.metadata.environmentID.utf8) == Array(caller.environmentID.utf8))
        #expect(read.metadata.updatedBy == caller.actor)
        #expect(try await vault.readObject(named: Self.longName, environmentID: caller.environmentID).id == long.id)

        // In the store itself.
        let objects = try vault.store.pool.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT \(Self.asBytes("id", "name", "environment_id", "updated_by_id", "updated_by_name", "current_version_id", "key_context")) FROM objects"
            )
        }
        let object = try #require(objects.first { Self.bytes($0, "id") == Array(created.id.utf8) })
        #expect(Self.bytes(object, "name") == Array(name.utf8))
        #expect(Self.bytes(object, "environment_id") == Array(caller.environmentID.utf8))
        #expect(Self.bytes(object, "updated_by_id") == Array(caller.actor.id.utf8))
        #expect(Self.bytes(object, "updated_by_name") == Array(caller.actor.name.utf8))
        #expect(Self.bytes(object, "current_version_id") == Array((updated.metadata.versionID ?? "").utf8))
        let storedContext = try JSONDecoder().decode(KeyContext.self, from: Data(Self.bytes(object, "key_context")))
        #expect(storedContext == context)
        let longRow = try #require(objects.first { Self.bytes($0, "id") == Array(long.id.utf8) })
        #expect(Self.bytes(longRow, "name") == Array(Self.longName.utf8))
        #expect(Self.bytes(longRow, "name").count == ObjectName.maxByteCount)

        let storedVersions = try vault.store.pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(Self.asBytes("id", "etag", "data_key_id")) FROM object_versions WHERE object_id = ?",
                arguments: [created.id]
            )
        }
        #expect(
            Set(storedVersions.map { Self.bytes($0, "id") }) == Set(versions.map { Array($0.id.utf8) })
        )
        #expect(Set(storedVersions.map { Self.bytes($0, "etag") }) == Set(versions.map { Array($0.etag.utf8) }))
        #expect(storedVersions.contains { Self.bytes($0, "data_key_id") == Array(updated.metadata.keyID.utf8) })

        let keks = try vault.store.pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(Self.asBytes("environment_id", "context_key", "context_value")) FROM keks"
            )
        }
        let storedPairs = Set(
            keks.filter { Self.bytes($0, "environment_id") == Array(caller.environmentID.utf8) }
                .map { Self.bytes($0, "context_key") + [0xFF] + Self.bytes($0, "context_value") }
        )
        let expectedPairs = Set(
            (context.pairs.map { ($0.key, $0.value) } + [("k", "v")]).map {
                Array($0.0.utf8) + [0xFF] + Array($0.1.utf8)
            }
        )
        #expect(storedPairs == expectedPairs)

        // Idempotency records.
        let scope = "key_" + sample
        let key = "idem " + sample
        let hash = "hash " + sample
        #expect(try await vault.claimIdempotencyKey(scope: scope, key: key, requestHash: hash) == .claimed)
        try await vault.completeIdempotencyKey(scope: scope, key: key, status: 201, body: Array(sample.utf8))
        #expect(
            try await vault.claimIdempotencyKey(scope: scope, key: key, requestHash: hash)
                == .replay(status: 201, body: Array(sample.utf8))
        )
        let record = try vault.store.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.asBytes("scope", "key", "request_hash")) FROM idempotency_keys")
        }
        let stored = try #require(record)
        #expect(Self.bytes(stored, "scope") == Array(scope.utf8))
        #expect(Self.bytes(stored, "key") == Array(key.utf8))
        #expect(Self.bytes(stored, "request_hash") == Array(hash.utf8))
    }

    @Test(
        "text holding NUL is refused with a typed error in every column, never stored cut",
        arguments: ["environment", "actor id", "actor name", "idempotency scope", "idempotency key", "request hash"]
    )
    func nulIsRefusedEverywhere(column: String) async throws {
        let temporary = try await TemporaryVault(.sqlite)
        let vault = temporary.vault
        let cut = "clean\u{0}tail"
        var caller = VaultCaller.alice
        switch column {
        case "environment": caller.environmentID = cut
        case "actor id": caller.actor.id = cut
        case "actor name": caller.actor.name = cut
        default: break
        }
        do {
            switch column {
            case "idempotency scope":
                _ = try await vault.claimIdempotencyKey(scope: cut, key: "k", requestHash: "h")
            case "idempotency key":
                _ = try await vault.claimIdempotencyKey(scope: "s", key: cut, requestHash: "h")
            case "request hash":
                _ = try await vault.claimIdempotencyKey(scope: "s", key: "k", requestHash: cut)
            default:
                _ = try await vault.createObject(name: "n", value: "v", context: ["k": "v"], caller: caller)
            }
            Issue.record("text holding NUL was accepted in \(column)")
        } catch let error as LocalVaultError {
            #expect(error.httpStatus == 400, "\(error)")
            #expect(!error.message.contains("clean") && !error.message.contains("tail"))
        }
        let stored = try await vault.store.pool.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT (SELECT count(*) FROM objects) + (SELECT count(*) FROM idempotency_keys)
                         + (SELECT count(*) FROM keks WHERE environment_id = 'clean')
                    """
            )
        }
        #expect(stored == 0)
    }

    /// Columns read as the bytes SQLite holds (a cast to BLOB), not through a C string.
    static func asBytes(_ columns: String...) -> String {
        columns.map { "CAST(\($0) AS BLOB) AS \($0)" }.joined(separator: ", ")
    }

    static func bytes(_ row: Row, _ column: String) -> [UInt8] {
        Array((row[column] as Data?) ?? Data())
    }
}
