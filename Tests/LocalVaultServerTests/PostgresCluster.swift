import Foundation
import TestProcesses
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A throwaway PostgreSQL cluster of a test's own, started with `scripts/postgres` (which
/// `scripts/test` names in `VAULT_TEST_POSTGRES_SCRIPT`), so that the test may restart it without
/// disturbing other tests. Stopped and removed by ``stop()``.
final class PostgresCluster: Sendable {
    let directory: String
    /// `postgres://postgres@127.0.0.1:PORT/vault`.
    let url: String

    private init(directory: String, url: String) {
        self.directory = directory
        self.url = url
    }

    /// The cluster script, if this run may start clusters.
    static let script: String? = {
        let environment = ProcessInfo.processInfo.environment
        if environment["VAULT_TEST_SKIP_POSTGRES"] == "1" { return nil }
        let path =
            environment["VAULT_TEST_POSTGRES_SCRIPT"] ?? packageRoot.appendingPathComponent("scripts/postgres").path
        let binaries = "/usr/lib/postgresql/15/bin/initdb"
        guard FileManager.default.isExecutableFile(atPath: path), FileManager.default.fileExists(atPath: binaries)
        else { return nil }
        return path
    }()

    /// Whether PostgreSQL tests run: with `CI=true` they always do (and fail without PostgreSQL).
    static let enabled = script != nil || isCI

    static func start() async throws -> PostgresCluster {
        let script = try #require(
            Self.script,
            "PostgreSQL 15 and scripts/postgres are needed (scripts/test sets them up)"
        )
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("vault-pg-\(UUID().uuidString.prefix(8))").path
        let result = try await runProgram(script, ["start", directory], timeout: .seconds(120))
        let url = result.output.split(separator: "\n").last.map(String.init) ?? ""
        guard result.status == 0, url.hasPrefix("postgres://") else {
            throw ClusterError.failed("scripts/postgres start: \(result.error)")
        }
        return PostgresCluster(directory: directory, url: url)
    }

    /// Stops the server (connections drop; the data stays): the database is down until ``resume()``.
    func pause() async throws {
        try await run("pause")
    }

    /// Starts the paused server again on the same port, and waits until it accepts connections.
    func resume() async throws {
        try await run("resume")
    }

    private func run(_ command: String) async throws {
        let result = try await runProgram(try #require(Self.script), [command, directory], timeout: .seconds(120))
        guard result.status == 0 else { throw ClusterError.failed("scripts/postgres \(command): \(result.error)") }
    }

    /// Runs one SQL statement with psql and returns its unaligned output.
    func query(_ sql: String) async throws -> String {
        let result = try await runProgram("/usr/bin/psql", [url, "-X", "-tAc", sql], timeout: .seconds(60))
        guard result.status == 0 else { throw ClusterError.failed("psql: \(result.error)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() async {
        guard let script = Self.script else { return }
        _ = try? await runProgram(script, ["stop", directory], timeout: .seconds(120))
    }

    enum ClusterError: Error, CustomStringConvertible {
        case failed(String)
        var description: String {
            switch self {
            case .failed(let message): message
            }
        }
    }
}

/// Runs a program to its end (killed after `timeout`: status -1), with its output and error output.
func runProgram(
    _ path: String,
    _ arguments: [String],
    timeout: Duration
) async throws -> (status: Int32, output: String, error: String) {
    let finished = try await ChildProcess.run(path, arguments, timeout: timeout)
    return (finished.status, finished.outputText, finished.error)
}
