import EnvelopeCrypto
import Foundation
import VaultAPI

/// Ids of data keys, KEKs, objects and versions: random version-4 UUIDs, lowercased as the Vault
/// API spells them.
enum Identifier {
    static func random() throws -> UUID {
        try RandomIdentifier.uuidBytes().withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
    }

    static func randomString() throws -> String { try random().lowercasedString }
}
