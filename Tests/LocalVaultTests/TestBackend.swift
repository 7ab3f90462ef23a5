import LocalVault
import Testing

/// The storage backends the engine's behaviour tests run against: each such test takes one as its
/// argument (`@Test(arguments: TestBackend.allCases)`), so one test body holds for every backend.
enum TestBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    // PostgreSQL: add `case postgres` here, and its arm in `freshStore(directory:)` below.

    var testDescription: String { rawValue }

    /// The configuration of a new, empty store of this backend whose root key is the file
    /// `root.key` in `directory` (a fresh folder that the caller removes).
    func freshStore(directory: String) async throws -> LocalVaultConfiguration {
        switch self {
        case .sqlite: LocalVaultConfiguration(dataDirectory: directory, rootKey: .file(directory + "/root.key"))
        }
    }
}
