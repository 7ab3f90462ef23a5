import Foundation
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
    let pid: pid_t
    /// `http://127.0.0.1:PORT`.
    let endpoint: String

    private init(pid: pid_t, endpoint: String) {
        self.pid = pid
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

    /// Starts the server and waits until boto3 gets an answer from it.
    static func start() async throws -> MotoServer {
        let executable = try #require(Self.executable, "moto_server is needed: scripts/bootstrap --test-tools")
        let port = try freePort()
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("moto-\(port).log").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        _ = executable  // moto is installed; its server runs through the launcher, with the same arguments
        let program = "/usr/bin/env"
        let arguments: [String] = [program, "python3", launcher, "-H", "127.0.0.1", "-p", "\(port)"]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, nil, argv, environ)
        guard spawned == 0 else { throw MotoError.failed("cannot start moto_server: errno \(spawned)") }
        let server = MotoServer(pid: pid, endpoint: "http://127.0.0.1:\(port)")
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if (try? await server.kms("ready")) != nil { return server }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw MotoError.failed("moto_server exited: \(log)")
            }
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
        kill(pid, SIGTERM)
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(5)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
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
        var description: String {
            switch self {
            case .failed(let message): message
            }
        }
    }
}
