import ArgumentParser
import Foundation

/// The embedded store as the client commands see it: only commands that store something create one.
enum EmbeddedStore {
    /// The SQLite file LocalVault keeps in its data folder.
    static let fileName = "vault.sqlite"

    /// Refuses a folder that holds no store (exit 5, as an unreachable server is): a command that
    /// only reads would otherwise create an empty store there, and report a blob or object of the
    /// real store as foreign or missing.
    static func requireExisting(in directory: String) throws {
        let path = (directory as NSString).appendingPathComponent(fileName)
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let variable = ProcessInfo.processInfo.environment["VAULT_HOME"].map { _ in " (VAULT_HOME)" } ?? ""
        FileHandle.standardError.write(
            Data(
                """
                vault: there is no vault store in \(directory)\(variable): nothing to read there; check \
                VAULT_HOME (only encrypt, kv create and keys data-key create a store)

                """.utf8
            )
        )
        throw ExitCode(5)
    }
}
