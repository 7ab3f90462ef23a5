import Foundation
import TestProcesses
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `moto_server` of a suite's own on a free loopback port: the AWS KMS the BYOK tests run
/// against (moto 5.2.1, installed by `scripts/bootstrap --test-tools`), started through
/// `Tests/Interop/moto_kms_server.py`, which adds the key-state checks real KMS makes on Encrypt
/// and Decrypt and moto 5.2.1 lacks. Keys are created and revoked through boto3
/// (`Tests/Interop/moto_kms.py`). Stopped by ``stop()``.
final class MotoServer: Sendable {
    let process: SpawnedProcess
    /// `http://127.0.0.1:PORT`.
    let endpoint: String

    private init(process: SpawnedProcess, endpoint: String) {
        self.process = process
        self.endpoint = endpoint
    }

    static let script = packageRoot.appendingPathComponent("Tests/Interop/moto_kms.py").path
    static let launcher = packageRoot.appendingPathComponent("Tests/Interop/moto_kms_server.py").path

    /// `moto_server` on the PATH, if this run may use it.
    static let executable: String? = {
        let environment = ProcessInfo.processInfo.environment
        if environment["VAULT_TEST_SKIP_MOTO"] == "1" { return nil }
        for folder in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(folder)/moto_server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    /// Whether the AWS KMS tests run: with `CI=true` they always do (and fail without moto).
    static let enabled = (executable != nil && VaultProcess.binary != nil) || isCI

    /// Starts the server and waits until boto3 gets an answer from it. The free port it is given
    /// may be taken by another test's server before moto binds it: then it starts again on another.
    static func start() async throws -> MotoServer {
        for attempt in 1...5 {
            do {
                return try await startOnce()
            } catch MotoError.portTaken where attempt < 5 {
                continue
            }
        }
        throw MotoError.failed("moto_server found no free port")
    }

    private static func startOnce() async throws -> MotoServer {
        let executable = try #require(Self.executable, "moto_server is needed: scripts/bootstrap --test-tools")
        let port = try freePort()
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("moto-\(port).log").path
        _ = executable  // moto is installed; its server runs through the launcher, with the same arguments
        let process = try SpawnedProcess(
            program: "/usr/bin/env",
            arguments: ["python3", launcher, "-H", "127.0.0.1", "-p", "\(port)"],
            environment: ProcessInfo.processInfo.environment,
            standardOutput: .null,
            standardError: .file(logPath)
        )
        let server = MotoServer(process: process, endpoint: "http://127.0.0.1:\(port)")
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            // Ours must still run: an answer on the port could come from another test's server.
            guard process.isRunning else {
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                if log.contains("Address already in use") { throw MotoError.portTaken }
                throw MotoError.failed("moto_server exited: \(log)")
            }
            if (try? await server.kms("ready")) != nil, process.isRunning { return server }
            try await Task.sleep(for: .milliseconds(200))
        }
        await server.stop()
        throw MotoError.failed("moto_server did not answer within 60 s")
    }

    /// Starts a server, runs `body` with it and stops it, whether `body` throws or not.
    static func with(_ body: (MotoServer) async throws -> Void) async throws {
        let server = try await start()
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// Runs one boto3 action (`create`, `disable ARN`, ...) against this server; its output.
    @discardableResult
    func kms(_ arguments: String...) async throws -> String {
        let result = try await runProgram(
            "/usr/bin/env",
            ["python3", Self.script, endpoint] + arguments,
            timeout: .seconds(60)
        )
        guard result.status == 0 else {
            throw MotoError.failed("moto_kms.py \(arguments.first ?? ""): \(result.error)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// SIGTERM, then SIGKILL after 5 s; reaped either way.
    func stop() async {
        process.signal(SIGTERM)
        if (try? await process.waitForExit(timeout: .seconds(5))) == nil { process.forceStop() }
    }

    /// A port the kernel just handed out on 127.0.0.1 (free for the moment it takes to start).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MotoError.failed("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw MotoError.failed("bind: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    enum MotoError: Error, CustomStringConvertible {
        case failed(String)
        /// Another process bound the port first.
        case portTaken
        var description: String {
            switch self {
            case .failed(let message): message
            case .portTaken: "moto_server: address already in use"
            }
        }
    }
}
