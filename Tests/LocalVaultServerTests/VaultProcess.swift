import Foundation
import TestProcesses
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether this run is CI's, where a missing tool is a failure rather than a skip.
let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

/// The package's root folder, from this file's place in it.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A `vault` child process (see ``SpawnedProcess``: not Foundation's `Process`).
final class VaultProcess: Sendable {
    let process: SpawnedProcess
    let dataDirectory: String
    let standardErrorPath: String
    /// The first line `vault serve` printed.
    let firstLine: String

    private init(process: SpawnedProcess, dataDirectory: String, standardErrorPath: String, firstLine: String) {
        self.process = process
        self.dataDirectory = dataDirectory
        self.standardErrorPath = standardErrorPath
        self.firstLine = firstLine
    }

    /// The built `vault` executable: `$VAULT_BINARY`, else next to the test bundle, else in
    /// `.build/debug`.
    static let binary: URL? = {
        var candidates: [URL] = []
        if let path = ProcessInfo.processInfo.environment["VAULT_BINARY"] {
            candidates.append(URL(fileURLWithPath: path))
        }
        for bundle in [Bundle.main] + Bundle.allBundles {
            candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("vault"))
            if let executable = bundle.executableURL {
                candidates.append(executable.deletingLastPathComponent().appendingPathComponent("vault"))
            }
        }
        if let argument = CommandLine.arguments.first {
            candidates.append(
                URL(fileURLWithPath: argument).deletingLastPathComponent().appendingPathComponent("vault")
            )
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/vault"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// The environment of a child: this one without Vault settings, plus `extra`.
    static func environment(_ extra: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in ["VAULT_API_KEYS", "VAULT_ROOT_KEY", "VAULT_HOME", "VAULT_DATABASE_URL"] { environment[name] = nil }
        return environment.merging(extra) { _, new in new }
    }

    /// Starts `vault serve --port 0` on a data folder and waits for its first line.
    /// - Parameter launcher: a program and its arguments that start `vault` (such as
    ///   `prlimit --nofile=1024`); none by default.
    static func serve(
        dataDirectory: String,
        apiKeys: String,
        arguments: [String] = [],
        launcher: [String] = [],
        environment extra: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> VaultProcess {
        let binary = try #require(binary, "the vault executable is not built: run swift build first")
        let serveArguments = ["serve", "--port", "0", "--data-dir", dataDirectory] + arguments
        let standardErrorPath = (dataDirectory as NSString).appendingPathComponent("stderr.log")
        // As `vault serve` makes it (0700), so that its standard error can be kept inside.
        try FileManager.default.createDirectory(
            atPath: dataDirectory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let (process, line) = try await ChildProcess.startAnnouncing(
            launcher.first ?? binary.path,
            launcher.isEmpty ? serveArguments : launcher.dropFirst() + [binary.path] + serveArguments,
            environment: environment(extra.merging(["VAULT_API_KEYS": apiKeys]) { _, new in new }),
            standardErrorPath: standardErrorPath,
            timeout: timeout
        )
        guard let line else {
            let log = (try? String(contentsOfFile: standardErrorPath, encoding: .utf8)) ?? ""
            throw VaultProcessError.noFirstLine(standardError: log)
        }
        return VaultProcess(
            process: process,
            dataDirectory: dataDirectory,
            standardErrorPath: standardErrorPath,
            firstLine: line
        )
    }

    /// The base URL announced on the first line.
    var baseURL: String { String(firstLine.dropFirst("listening on ".count)) }

    /// The port announced on the first line.
    var port: Int? { firstLine.split(separator: ":").last.flatMap { Int($0) } }

    var standardError: String { (try? String(contentsOfFile: standardErrorPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) {
        process.signal(signal)
    }

    /// Waits for the process to end; `nil` if it is still running after `timeout`.
    func waitForExit(timeout: Duration) async throws -> (reason: SpawnedProcess.TerminationReason, status: Int32)? {
        try await process.waitForExit(timeout: timeout)
    }

    /// Ends the process for good (SIGKILL), if it still runs.
    func stop() {
        process.forceStop()
    }

    /// Runs `vault` with `arguments` to its end (for commands that exit by themselves).
    static func run(
        _ arguments: [String],
        environment extra: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> (status: Int32, output: String, error: String) {
        let binary = try #require(binary, "the vault executable is not built: run swift build first")
        let finished = try await ChildProcess.run(
            binary.path,
            arguments,
            environment: environment(extra),
            timeout: timeout
        )
        return (finished.status, finished.outputText, finished.error)
    }
}

enum VaultProcessError: Error, CustomStringConvertible {
    case noFirstLine(standardError: String)

    var description: String {
        switch self {
        case .noFirstLine(let log): "vault serve printed no first line; its standard error:\n\(log)"
        }
    }
}
