@testable import LocalVault

extension LocalVault {
    /// The SQLite store of a vault opened with ``LocalVault/init(configuration:)`` (every vault
    /// these tests open), for the tests that look at its rows and files through GRDB.
    var store: SQLiteStorage {
        guard let store = storage as? SQLiteStorage else { fatalError("the vault is not on a SQLite store") }
        return store
    }
}
