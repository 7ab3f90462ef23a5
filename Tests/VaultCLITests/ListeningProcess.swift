import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process that serves HTTP and announces `listening on http://HOST:PORT` as its first
/// line: `vault serve --port 0` on a temporary data folder, or the WorkOS-like proxy in
/// Tests/Interop (the parts of LocalVaultServerTests' `VaultProcess` these CLI tests need).
final class ListeningProcess {
    let process: Process
    /// `http://127.0.0.1:PORT`, from the first line.
    let baseURL: String
    /// A folder of the child's, removed when it stops.
    private let folder: String?

    /// Whether `python3` runs here (the proxy needs it; CI has it).
    static let hasPython3: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "pass"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// `vault serve --port 0` accepting `apiKeys` (`VAULT_API_KEYS`), on a new temporary folder,
    /// with `environment` added to the variables it gets.
    static func vaultServe(
        apiKeys: String,
        arguments: [String] = [],
        environment added: [String: String] = [:]
    ) throws -> ListeningProcess {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vault-served-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WORKOS_") }
        for name in ["VAULT_ROOT_KEY", "VAULT_HOME"] { environment[name] = nil }
        environment["VAULT_API_KEYS"] = apiKeys
        environment.merge(added) { _, new in new }
        return try ListeningProcess(
            executable: VaultCLITests.binary,
            arguments: ["serve", "--port", "0", "--data-dir", folder] + arguments,
            environment: environment,
            folder: folder
        )
    }

    /// Tests/Interop/workos_like_proxy.py in front of `upstream`: answers without version numbers.
    static func workOSLikeProxy(upstream: String, failUpdates: Bool = false) throws -> ListeningProcess {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Interop/workos_like_proxy.py").path
        return try ListeningProcess(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: ["python3", script, upstream] + (failUpdates ? ["--fail-updates"] : []),
            environment: ProcessInfo.processInfo.environment,
            folder: nil
        )
    }

    /// Starts the child and waits (at most `timeout`) for its first line.
    private init(
        executable: URL,
        arguments: [String],
        environment: [String: String],
        folder: String?,
        timeout: Duration = .seconds(60)
    ) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()

        // The read below blocks; a child that never prints is killed, which ends the read.
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(timeout.components.seconds), execute: watchdog)
        var line: [UInt8] = []
        while let byte = output.fileHandleForReading.readData(ofLength: 1).first, byte != UInt8(ascii: "\n") {
            line.append(byte)
        }
        watchdog.cancel()
        let first = String(decoding: line, as: UTF8.self)
        guard first.hasPrefix("listening on ") else {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            if let folder { try? FileManager.default.removeItem(atPath: folder) }
            throw ListeningProcessError.noFirstLine
        }
        self.process = process
        self.folder = folder
        baseURL = String(first.dropFirst("listening on ".count))
    }

    /// Ends the child (SIGKILL: Foundation.Process starts it with signals blocked) and removes its folder.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        if let folder { try? FileManager.default.removeItem(atPath: folder) }
    }

    deinit { stop() }
}

enum ListeningProcessError: Error {
    case noFirstLine
}
