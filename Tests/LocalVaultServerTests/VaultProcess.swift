import Foundation
import Synchronization
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

/// A `vault` child process. Helpers end it with SIGKILL (a child of Foundation.Process starts
/// with signals blocked; `vault serve` unblocks SIGINT and SIGTERM itself, which is under test).
final class VaultProcess: Sendable {
    let process: Process
    let dataDirectory: String
    let standardErrorPath: String
    /// The first line `vault serve` printed.
    let firstLine: String

    private init(process: Process, dataDirectory: String, standardErrorPath: String, firstLine: String) {
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
        let process = Process()
        let serveArguments = ["serve", "--port", "0", "--data-dir", dataDirectory] + arguments
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = launcher.dropFirst() + [binary.path] + serveArguments
        } else {
            process.executableURL = binary
            process.arguments = serveArguments
        }
        process.environment = environment(extra.merging(["VAULT_API_KEYS": apiKeys]) { _, new in new })
        let output = Pipe()
        process.standardOutput = output
        let standardErrorPath = (dataDirectory as NSString).appendingPathComponent("stderr.log")
        _ = FileManager.default.createFile(atPath: standardErrorPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: standardErrorPath)
        try process.run()

        let gotLine = Mutex(false)
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            if !gotLine.withLock({ $0 }) { kill(process.processIdentifier, SIGKILL) }
        }
        let line = await readLine(output.fileHandleForReading)
        gotLine.withLock { $0 = true }
        watchdog.cancel()
        guard let line else {
            let log = (try? String(contentsOfFile: standardErrorPath, encoding: .utf8)) ?? ""
            Self.forceStop(process)
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
        _ = kill(process.processIdentifier, signal)
    }

    /// Waits for the process to end; `nil` if it is still running after `timeout`.
    func waitForExit(timeout: Duration) async throws -> (reason: Process.TerminationReason, status: Int32)? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(50))
        }
        return (process.terminationReason, process.terminationStatus)
    }

    /// Ends the process for good (SIGKILL), if it still runs.
    func stop() {
        Self.forceStop(process)
    }

    private static func forceStop(_ process: Process) {
        guard process.isRunning else { return }
        _ = kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Reads up to the first newline on a thread of its own (the read blocks).
    private static func readLine(_ handle: FileHandle) async -> String? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var bytes: [UInt8] = []
                while true {
                    let data = handle.readData(ofLength: 1)
                    guard let byte = data.first else {
                        continuation.resume(returning: nil)
                        return
                    }
                    if byte == UInt8(ascii: "\n") { break }
                    bytes.append(byte)
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
    }

    /// Runs `vault` with `arguments` to its end (for commands that exit by themselves).
    static func run(
        _ arguments: [String],
        environment extra: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> (status: Int32, output: String, error: String) {
        let binary = try #require(binary, "the vault executable is not built: run swift build first")
        return try await withTemporaryDirectory { directory in
            let outputPath = (directory as NSString).appendingPathComponent("stdout")
            let errorPath = (directory as NSString).appendingPathComponent("stderr")
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
            let process = Process()
            process.executableURL = binary
            process.arguments = arguments
            process.environment = environment(extra)
            process.standardOutput = FileHandle(forWritingAtPath: outputPath)
            process.standardError = FileHandle(forWritingAtPath: errorPath)
            try process.run()
            let deadline = ContinuousClock.now + timeout
            while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            Self.forceStop(process)
            return (
                process.terminationStatus,
                (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            )
        }
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
