import EnvelopeCrypto
import Foundation
import TestProcesses
import Testing

/// The official WorkOS Python SDK against `vault serve` (Tests/Interop/python_sdk_interop.py).
@Suite("Python SDK interop")
struct PythonInteropTests {
    /// `python3` with the `workos` package, and its version.
    static let sdkVersion: String? = {
        let probe = "import importlib.metadata as m, workos; print(m.version('workos'))"
        guard let finished = try? ChildProcess.runBlocking("/usr/bin/env", ["python3", "-c", probe]),
            finished.status == 0
        else { return nil }
        return finished.outputText.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    static let script = packageRoot.appendingPathComponent("Tests/Interop/python_sdk_interop.py").path

    @Test(
        "the official SDK's vault module works end to end against vault serve",
        .enabled(
            if: (sdkVersion != nil && VaultProcess.binary != nil) || isCI,
            "needs python3 with `pip install workos` and a built vault; with CI=true their absence fails"
        ),
        .timeLimit(.minutes(5))
    )
    func pythonSDK() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await Self.serve(directory: directory)
            defer { server.stop() }
            try await Self.runScript(against: server)
        }
    }

    @Test(
        "the official SDK's vault module works end to end against either of two vault serve on one PostgreSQL",
        .enabled(
            if: (sdkVersion != nil && VaultProcess.binary != nil && PostgresCluster.enabled) || isCI,
            "needs python3 with `pip install workos`, a built vault and PostgreSQL 15; with CI=true their absence fails"
        ),
        .timeLimit(.minutes(5))
    )
    func pythonSDKOnPostgreSQL() async throws {
        let cluster = try await PostgresCluster.start()
        do {
            try await withTemporaryDirectory { directory in
                // Two instances on one database with one root key; the script (its names unique
                // to each run) runs in full against one, then against the other.
                let rootKey = try DataKey.generate().base64EncodedString()
                var instances: [VaultProcess] = []
                defer { for instance in instances { instance.stop() } }
                for name in ["a", "b"] {
                    instances.append(
                        try await Self.serve(
                            directory: (directory as NSString).appendingPathComponent(name),
                            arguments: ["--database", cluster.url],
                            environment: ["VAULT_ROOT_KEY": rootKey]
                        )
                    )
                }
                for instance in instances { try await Self.runScript(against: instance) }
            }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    static let apiKey = "sk_test_python_interop"

    /// `vault serve` for the script on a data folder, with `arguments` and `environment`.
    static func serve(
        directory: String,
        arguments: [String] = [],
        environment: [String: String] = [:]
    ) async throws -> VaultProcess {
        // A zero purge delay frees a deleted name at once, as the official emulator does; the
        // script reuses one.
        try await VaultProcess.serve(
            dataDirectory: directory,
            apiKeys: apiKey,
            arguments: ["--purge-delay", "0"] + arguments,
            environment: environment
        )
    }

    /// Runs the script against `server`.
    static func runScript(against server: VaultProcess) async throws {
        guard let version = Self.sdkVersion else {
            Issue.record("python3 or the workos package is missing: pip install workos")
            return
        }
        #expect(version.hasPrefix("10."), "workos \(version): the script is written against 10.x")
        var environment = ProcessInfo.processInfo.environment
        environment["WORKOS_BASE_URL"] = server.baseURL
        environment["WORKOS_API_KEY"] = apiKey
        environment["WORKOS_CLIENT_ID"] = "client_test"
        environment["PYTHONUNBUFFERED"] = "1"
        let finished = try await ChildProcess.run(
            "/usr/bin/env",
            ["python3", Self.script],
            environment: environment,
            timeout: .seconds(240)
        )
        let transcript = finished.outputText + finished.error
        let lastLine = finished.outputText.split(separator: "\n").last.map(String.init) ?? ""
        #expect(finished.status == 0, "\(transcript)\n--- server log ---\n\(server.standardError)")
        #expect(lastLine.wholeMatch(of: #/python-sdk-interop: [1-9]\d* passed, 0 failed/#) != nil, "\(lastLine)")
    }
}
