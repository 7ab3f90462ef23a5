import EnvelopeCrypto
import Foundation
import GRDB
import Testing
import VaultAPI

@testable import LocalVault

/// Stores written before text holding NUL was refused: a context such as
/// `organization_id = "org_next\u{0}"` was stored cut at the NUL (`org_next`) while its KEK was
/// wrapped over the whole text, so the row took the clean pair's name and never opened. Such a
/// row is moved aside and the clean pair gets a fresh KEK.
@Suite("KEK healing")
struct KEKHealingTests {
    static let env = LocalVault.defaultEnvironmentID

    /// Inserts a KEK row the way builds before the fix did for `key = value` (GRDB binds text as a
    /// C string, so both are stored cut at their first NUL), and returns its id.
    @discardableResult
    static func insertCutRow(into vault: LocalVault, key: String, value: String) async throws -> String {
        let id = UUID().uuidString.lowercased()
        let associatedData = Array("lvs.kek\0\(id)\0\(env)\0\(key)\0\(value)".utf8)
        let wrapped = try vault.rootKey.wrap(try DataKey.generate(), associatedData: associatedData)
        try await vault.store.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO keks (id, environment_id, context_key, context_value, wrapped_key, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id, env, key, value, Data(wrapped), Date().storedMilliseconds]
            )
        }
        return id
    }

    static func count(_ table: String, in vault: LocalVault) async throws -> Int {
        try await vault.store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 }
    }

    @Test(
        "a KEK row cut at a NUL is moved aside and the clean context works again",
        arguments: [
            (["organization_id": "org_next\u{0}"], false),
            (["organization_id": "org_next\u{0}"], true),
            (["organization_id\u{0}zz": "org_next"], false),
            (["organization_id\u{0}zz": "org_next"], true),
        ]
    )
    func cutRowHeals(pairs: [String: String], withOtherKEK: Bool) async throws {
        let temporary = try await TemporaryVault(.sqlite)
        if withOtherKEK {
            _ = try await temporary.vault.createDataKey(context: ["tenant": "t1"], environmentID: Self.env)
        }
        let (key, value) = try #require(pairs.first)
        let cutID = try await Self.insertCutRow(into: temporary.vault, key: key, value: value)
        let stored = try await temporary.vault.store.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT context_key, context_value FROM keks WHERE id = ?", arguments: [cutID])
        }
        #expect((stored?["context_key"] as String?) == "organization_id")
        #expect((stored?["context_value"] as String?) == "org_next")

        let clean: KeyContext = ["organization_id": "org_next"]
        let issued = try await temporary.vault.createDataKey(context: clean, environmentID: Self.env)
        let opened = try await temporary.vault.decryptDataKey(
            encryptedKeys: issued.encryptedKeys,
            environmentID: Self.env
        )
        #expect(opened.key == issued.key)
        let quarantined = try await temporary.vault.store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT id FROM keks_quarantine")
        }
        #expect(quarantined == [cutID])
        #expect(try await Self.count("keks", in: temporary.vault) == (withOtherKEK ? 2 : 1))

        // Healed for good: after a restart the same KEK serves the context.
        try await temporary.reopen()
        let again = try await temporary.vault.createDataKey(context: clean, environmentID: Self.env)
        let reopened = try await temporary.vault.decryptDataKey(
            encryptedKeys: issued.encryptedKeys,
            environmentID: Self.env
        )
        #expect(reopened.key == issued.key)
        #expect(
            try await temporary.vault.decryptDataKey(encryptedKeys: again.encryptedKeys, environmentID: Self.env).key
                == again.key
        )
        #expect(try await Self.count("keks_quarantine", in: temporary.vault) == 1)
    }

    @Test("under a wrong root key the store does not open, so nothing is moved aside")
    func wrongRootKeyMovesNothing() async throws {
        let temporary = try await TemporaryVault(.sqlite)
        _ = try await temporary.vault.createDataKey(context: ["tenant": "t1"], environmentID: Self.env)
        _ = try await temporary.vault.createDataKey(context: ["organization_id": "org_next"], environmentID: Self.env)
        let otherKey = temporary.directory + "/other-root.key"
        let error = #expect(throws: LocalVaultError.self) {
            _ = try LocalVault(
                configuration: LocalVaultConfiguration(dataDirectory: temporary.directory, rootKey: .file(otherKey))
            )
        }
        #expect(error?.rule == .rootKey)
        #expect(try await Self.count("keks", in: temporary.vault) == 2)
        #expect(try await Self.count("keks_quarantine", in: temporary.vault) == 0)
    }
}
