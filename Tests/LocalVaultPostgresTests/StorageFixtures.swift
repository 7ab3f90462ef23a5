import Foundation
import VaultAPI

@testable import LocalVault

/// Records to store, with fresh ids.
enum StorageFixtures {
    static let environment = "environment_test"
    static let actor = VaultActor(id: "key_test", name: "test")

    static func id() -> String { UUID().uuidString.lowercased() }

    static func object(named name: String, environment: String = environment) -> NewObject {
        NewObject(id: id(), environmentID: environment, name: name, contextJSON: #"{"tenant":"a"}"#)
    }

    static func version(at instant: Int64 = 1_000) -> NewObjectVersion {
        NewObjectVersion(
            id: id(),
            createdAt: instant,
            actor: actor,
            size: 5,
            etag: "etag",
            dataKeyID: id(),
            sealedValue: Array(repeating: 7, count: 40)
        )
    }

    static func kek(_ name: KEKName) -> StoredKEK {
        StoredKEK(id: id(), name: name, version: 1, wrappedKey: Array(repeating: 1, count: 60), createdAt: 1_000)
    }

    static func listFilter(
        search: String? = nil,
        cursorID: String? = nil,
        ascending: Bool = true,
        limit: Int = 100
    ) -> ObjectListFilter {
        ObjectListFilter(
            environmentID: environment,
            contextJSON: nil,
            search: search,
            updatedAfter: nil,
            cursorID: cursorID,
            ascending: ascending,
            limit: limit
        )
    }
}
