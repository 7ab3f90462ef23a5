import EnvelopeCrypto
import Foundation
import GRDB
import Testing
import VaultAPI

@testable import LocalVault

/// The v7 migration on a store written before KEK versions: existing KEKs become version 1, and
/// after a rotation of every pair and a rewrap everything written before still opens.
@Suite(.timeLimit(.minutes(2)))
struct KEKVersionMigrationTests {
    @Test func legacyStoreKEKsAreVersionOneAndSurviveRotationAndRewrap() async throws {
        let fixture = try LegacyStoreFixture()
        let vault = try fixture.open()
        let pairs = try await vault.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT environment_id, context_key, context_value, version FROM keks")
                .map {
                    (
                        env: $0["environment_id"] as String, key: $0["context_key"] as String,
                        value: $0["context_value"] as String, version: $0["version"] as Int
                    )
                }
        }
        #expect(!pairs.isEmpty)
        #expect(pairs.allSatisfy { $0.version == 1 })

        for pair in pairs {
            let rotated = try await vault.rotateKEKs(
                context: KeyContext([pair.key: pair.value]),
                environmentID: pair.env
            )
            #expect(rotated.map(\.version) == [2])
        }
        let totals = try await vault.rewrapStoredObjects()
        #expect(totals.rewrapped >= 1)

        for stored in fixture.cases.values {
            switch stored.kind {
            case "object":
                let object = try await vault.readObject(id: stored.id, environmentID: stored.environment_id)
                #expect(object.value == stored.value)
            case "data_key" where stored.name.hasPrefix("vault-only") || stored.name.hasPrefix("mixed"):
                let opened = try await vault.decryptDataKey(
                    encryptedKeys: try fixture.encryptedKeys(stored.name),
                    environmentID: stored.environment_id
                )
                #expect(opened.key == (try fixture.dataKey(stored.name)))
            default:
                continue
            }
        }
    }
}
