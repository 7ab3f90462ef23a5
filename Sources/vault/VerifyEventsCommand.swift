import ArgumentParser
import Foundation
import LocalVault
import LocalVaultPostgres

/// `vault admin verify-events`: checks the hash chain of every environment's events.
struct VerifyEvents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-events",
        abstract: "Check the tamper-evident hash chain of the store's events.",
        discussion: """
            Walks each environment's events from the oldest retained one (older ones may have \
            been deleted by --event-retention) to the newest, and checks that every event's hash \
            matches its content and follows the previous event's. Prints one line per \
            environment; on a broken link, names its event id and sequence and exits 1. Safe to \
            run while `vault serve` uses the store: events appended meanwhile are left for the \
            next run.

            Examples:
              vault admin verify-events --data-dir /var/lib/vault
              vault admin verify-events --database postgres://vault@db:5432/vault \\
                --database-password-file /etc/vault/db.password
            """
    )

    @Option(
        name: .customLong("data-dir"),
        help: "The vault's data folder: its store, or with --database its root.key (default: see `vault --help`)."
    )
    var dataDirectory: String?

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let directory = dataDirectory ?? LocalVaultHome.defaultDirectory()
        let configuration = LocalVaultConfiguration(dataDirectory: directory, purgesInBackground: false)
        let checks: [EventChainCheck]
        do {
            let vault: LocalVault
            if let databaseURL = try database.url() {
                try requireRootKey(configuration, command: "verify-events")
                vault = try await LocalVault.open(databaseURL: databaseURL, configuration: configuration)
            } else {
                let store = (directory as NSString).appendingPathComponent("vault.sqlite")
                guard FileManager.default.fileExists(atPath: store) else {
                    FileHandle.standardError.write(
                        Data("vault: admin verify-events: there is no vault store in \(directory)\n".utf8)
                    )
                    throw ExitCode(5)
                }
                vault = try LocalVault(configuration: configuration)
            }
            checks = try await vault.verifyEvents()
            await vault.close()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            adminFailure(error, command: "verify-events")
        }
        var lines: [String] = []
        for check in checks {
            let range = check.sequences.map { " (sequences \($0.lowerBound) to \($0.upperBound))" } ?? ""
            if let broken = check.broken {
                lines.append(
                    "\(check.environmentID): BROKEN at event \(broken.eventID), sequence \(broken.sequence): "
                        + "\(broken.reason); \(check.checked) events intact before it"
                )
            } else {
                lines.append("\(check.environmentID): \(check.checked) events intact\(range)")
            }
        }
        if checks.isEmpty { lines.append("no events recorded") }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        if checks.contains(where: { $0.broken != nil }) { throw ExitCode(1) }
    }
}
