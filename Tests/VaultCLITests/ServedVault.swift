import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `vault serve --port 0` child process on a temporary data folder, for CLI tests that need a
/// live server (the parts of LocalVaultServerTests' `VaultProcess` these tests need).
final class ServedVault {
    let process: Process
    let dataDirectory: String
    /// `http://127.0.0.1:PORT`, from the server's first line.
    let baseURL: String

    /// Starts the server with `apiKeys` (`VAULT_API_KEYS`) and waits for its first line.
    init(apiKeys: String, arguments: [String] = [], timeout: Duration = .seconds(60)) throws {
        dataDirectory =
            FileManager.default.temporaryDirectory.appendingPathComponent("vault-served-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = VaultCLITests.binary
        process.arguments = ["serve", "--port", "0", "--data-dir", dataDirectory] + arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WORKOS_") }
        for name in ["VAULT_ROOT_KEY", "VAULT_HOME"] { environment[name] = nil }
        environment["VAULT_API_KEYS"] = apiKeys
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process

        // The read below blocks; a server that never prints is killed, which ends the read.
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        let seconds = Double(timeout.components.seconds)
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog)
        var line: [UInt8] = []
        while let byte = output.fileHandleForReading.readData(ofLength: 1).first, byte != UInt8(ascii: "\n") {
            line.append(byte)
        }
        watchdog.cancel()
        let first = String(decoding: line, as: UTF8.self)
        guard first.hasPrefix("listening on ") else {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: dataDirectory)
            throw ServedVaultError.noFirstLine
        }
        baseURL = String(first.dropFirst("listening on ".count))
    }

    /// Ends the server (SIGKILL: Foundation.Process starts it with signals blocked) and removes its folder.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    deinit { stop() }
}

enum ServedVaultError: Error {
    case noFirstLine
}
