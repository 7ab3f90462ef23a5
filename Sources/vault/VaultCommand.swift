import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import WorkOSVault

/// `vault`: a local WorkOS Vault.
@main
struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "WorkOS Vault from the command line: encryption, objects, keys, and a local Vault server.",
        discussion: """
            With WORKOS_API_KEY set, commands use the WorkOS API (or WORKOS_BASE_URL, such as a \
            `vault serve`). With no WorkOS variable set they use the embedded store in $VAULT_HOME, \
            else $XDG_DATA_HOME/workos-vault or ~/.local/share/workos-vault \
            (~/Library/Application Support/workos-vault on macOS); `vault serve` serves the same \
            folder unless given --data-dir.
            Secrets (API keys, the root key, values, plaintext) are read from the environment, \
            standard input or files, never from the command line.
            Exit codes: 0 ok, 1 usage (a value over the size limit too), 2 not found or conflict, \
            3 authentication or authorization, 4 decryption failure or input that is not a blob or \
            keys blob, 5 network or service failure (no embedded store where a command only reads).
            """,
        version: VaultCommand.version,
        subcommands: [
            Encrypt.self, Decrypt.self, Rekey.self, KV.self, Keys.self, Serve.self, Doctor.self, Admin.self,
            Migrate.self,
        ]
    )

    /// What `vault --version` prints.
    static let version = Vault.version

    /// Runs the command; usage errors exit with status 1 (ArgumentParser's default is 64), so the
    /// documented codes hold: 0 ok, 1 usage, 2 not found or conflict, 3 authentication or
    /// authorization, 4 decryption failure, 5 network or service failure.
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            var message = fullMessage(for: error)
            if let hint = SubcommandSuggestion.hint(for: Array(CommandLine.arguments.dropFirst())) {
                message += "\n" + hint
            }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            Foundation.exit(1)
        }
        do {
            if command is Serve { runConcurrencyOnEventLoops() }
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch let error as ValidationError {
            // The command line parsed: a failure now is not a usage mistake, so its reason alone
            // is printed, without the usage line.
            FileHandle.standardError.write(Data("vault: \(error.message)\n".utf8))
            Foundation.exit(1)
        } catch {
            exit(withError: error)  // `--help` of a subcommand arrives here, as a request to print it
        }
    }
}

/// Makes SwiftNIO's event loops Swift concurrency's global executor, for `vault serve` only: a
/// request then stays on the thread that read it instead of hopping to another and back. The
/// other commands keep the default executor, as an application using the library does: on an
/// event loop every call into a nonisolated async function is a trip through the loop's queue.
private func runConcurrencyOnEventLoops() {
    if let allowed = allowedCPUCount(), allowed < System.coreCount,
        ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil
    {
        // One event loop per CPU this process may run on (taskset, cpusets): more loops than
        // CPUs only adds context switches and tail latency.
        NIOSingletons.groupLoopCountSuggestion = allowed
    }
    _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}

/// The number of CPUs in this process's affinity mask (`Cpus_allowed` in /proc/self/status on
/// Linux), or nil where that cannot be read.
private func allowedCPUCount() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
    else { return nil }
    let mask = line.dropFirst("Cpus_allowed:".count).filter { $0.isHexDigit }
    let count = mask.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
    return count > 0 ? count : nil
}
