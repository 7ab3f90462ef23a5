import Foundation
import TestProcesses
import Testing

/// A child process that serves HTTP and announces `listening on http://HOST:PORT` as its first
/// line: `vault serve --port 0` on a temporary data folder, or the WorkOS-like proxy in
/// Tests/Interop (the parts of LocalVaultServerTests' `VaultProcess` these CLI tests need).
final class ListeningProcess {
    let process: SpawnedProcess
    /// `http://127.0.0.1:PORT`, from the first line.
    let baseURL: String
    /// A folder of the child's (`vault serve`'s data folder), removed when it stops.
    let folder: String

    /// Whether `python3` runs here (the proxy needs it; CI has it).
    static let hasPython3: Bool =
        (try? ChildProcess.runBlocking("/usr/bin/env", ["python3", "-c", "pass"]))?.status == 0

    /// `vault serve --port 0` accepting `apiKeys` (`VAULT_API_KEYS`), on a new temporary folder,
    /// with `environment` added to the variables it gets.
    static func vaultServe(
        apiKeys: String,
        arguments: [String] = [],
        environment added: [String: String] = [:]
    ) async throws -> ListeningProcess {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WORKOS_") }
        for name in ["VAULT_ROOT_KEY", "VAULT_HOME"] { environment[name] = nil }
        environment["VAULT_API_KEYS"] = apiKeys
        environment.merge(added) { _, new in new }
        return try await ListeningProcess(
            program: VaultCLITests.binary.path,
            arguments: { folder in ["serve", "--port", "0", "--data-dir", folder] + arguments },
            environment: environment
        )
    }

    /// Tests/Interop/workos_like_proxy.py in front of `upstream`: answers without version numbers.
    static func workOSLikeProxy(upstream: String, failUpdates: Bool = false) async throws -> ListeningProcess {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Interop/workos_like_proxy.py").path
        return try await ListeningProcess(
            program: "/usr/bin/env",
            arguments: { _ in ["python3", script, upstream] + (failUpdates ? ["--fail-updates"] : []) },
            environment: ProcessInfo.processInfo.environment
        )
    }

    /// Starts the child (its arguments may name its own new folder) and waits for its first line.
    private init(program: String, arguments: (String) -> [String], environment: [String: String]) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vault-served-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(
            atPath: folder,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let (process, line) = try await ChildProcess.startAnnouncing(
            program,
            arguments(folder),
            environment: environment,
            standardErrorPath: folder + "/stderr.log"
        )
        guard let line, line.hasPrefix("listening on ") else {
            process.forceStop()
            try? FileManager.default.removeItem(atPath: folder)
            throw ListeningProcessError.noFirstLine
        }
        self.process = process
        self.folder = folder
        baseURL = String(line.dropFirst("listening on ".count))
    }

    /// Ends the child and removes its folder.
    func stop() {
        process.forceStop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    deinit { stop() }
}

enum ListeningProcessError: Error {
    case noFirstLine
}
