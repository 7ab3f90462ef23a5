import Foundation
import Testing

/// `vault doctor` as a user runs it: on the embedded store, and against a live `vault serve` with
/// a valid key, a wrong key, a customer-managed key, and a closed port.
@Suite(.timeLimit(.minutes(3)))
struct DoctorCLITests {
    static let stepNames = [
        "api_key", "client_id", "backend", "connection", "create", "read", "update", "describe", "delete",
        "read_deleted", "data_key", "round_trip", "key_management",
    ]
    static let validKey = "sk_test_doctor_valid_key_9f3a"

    let cli = VaultCLITests()

    /// The report of `vault doctor --json`.
    func report(_ result: VaultCLITests.Result) throws -> (ok: Bool, steps: [[String: String]]) {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let ok = try #require(json["ok"] as? Bool)
        let steps = try #require(json["steps"] as? [[String: String]])
        return (ok, steps)
    }

    /// The canaries (values and plaintext) carry a fixed label: it must never reach the output.
    func expectNoCanary(_ result: VaultCLITests.Result, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!result.stdout.contains("doctor-canary"), sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("doctor-canary"), sourceLocation: sourceLocation)
    }

    /// No object named like a canary is left behind.
    func expectCanaryGone(environment: [String: String], sourceLocation: SourceLocation = #_sourceLocation) async throws
    {
        let listed = try await cli.vault(["kv", "list"], environment: environment)
        #expect(listed.status == 0, sourceLocation: sourceLocation)
        #expect(!listed.stdout.contains("vault-doctor-"), sourceLocation: sourceLocation)
    }

    @Test func everyStepPassesOnTheEmbeddedStore() async throws {
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let result = try await cli.vault(["doctor"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("✔ api_key: WORKOS_API_KEY is not set: the embedded store is in use"))
        #expect(result.stdout.contains("✔ backend: the embedded store in \(cli.home)"))
        #expect(result.stdout.contains("✔ update: updated the canary with a version check: version 1 → 2"))
        #expect(result.stdout.contains("✔ describe: metadata without the value: version 2"))
        #expect(result.stdout.contains("✔ read_deleted: reading the deleted canary is not found (404)"))
        #expect(result.stdout.contains("✔ key_management: Vault-managed"))
        #expect(result.stdout.contains("all checks passed"))
        #expect(!result.stdout.contains("✘"))
        expectNoCanary(result)
        try await expectCanaryGone(environment: [:])
    }

    @Test func theJSONReportParsesAndNamesEveryStep() async throws {
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let result = try await cli.vault([
            "doctor", "--json", "--context", "organization_id=org_json", "--context", "a=b",
        ])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let (ok, steps) = try report(result)
        #expect(ok)
        #expect(steps.map { $0["name"] ?? "" } == Self.stepNames)
        for step in steps {
            #expect(["pass", "skip"].contains(step["status"]), "\(step)")
            #expect(!(step["detail"] ?? "").isEmpty)
        }
        #expect(steps.first { $0["name"] == "create" }?["detail"]?.contains("a=b organization_id=org_json") == true)
        expectNoCanary(result)
        try await expectCanaryGone(environment: [:])
    }

    @Test func aLiveServerWithAValidKeyPasses() async throws {
        let server = try await ListeningProcess.vaultServe(apiKeys: Self.validKey)
        defer { server.stop() }
        let environment = ["WORKOS_API_KEY": Self.validKey, "WORKOS_BASE_URL": server.baseURL]
        let result = try await cli.vault(["doctor"], environment: environment)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("✔ api_key: WORKOS_API_KEY is set and starts with sk_ (sk_…9f3a)"))
        #expect(result.stdout.contains("! client_id: WORKOS_CLIENT_ID is not set"))
        #expect(result.stdout.contains("✔ backend: another server at \(server.baseURL) (WORKOS_BASE_URL)"))
        #expect(result.stdout.contains("✔ connection: the server answered and accepted the API key"))
        #expect(result.stdout.contains("version 1 → 2"))
        #expect(result.stdout.contains("✔ key_management: Vault-managed"))
        #expect(!result.stdout.contains(Self.validKey) && !result.stderr.contains(Self.validKey))
        expectNoCanary(result)
        try await expectCanaryGone(environment: environment)

        let withClient = try await cli.vault(
            ["doctor", "--json"],
            environment: environment.merging(["WORKOS_CLIENT_ID": "client_doctor_test_01234567"]) { $1 }
        )
        #expect(withClient.status == 0)
        let (ok, steps) = try report(withClient)
        #expect(ok)
        #expect(steps.allSatisfy { $0["status"] == "pass" }, "\(steps)")
        #expect(!withClient.stdout.contains("client_doctor_test_01234567"))
        try await expectCanaryGone(environment: environment)
    }

    @Test func aWrongKeyExitsThreeAndIsNotPrinted() async throws {
        let server = try await ListeningProcess.vaultServe(apiKeys: Self.validKey)
        defer { server.stop() }
        let wrongKey = "sk_test_doctor_wrong_key_77c1"
        let result = try await cli.vault(
            ["doctor", "--json"],
            environment: ["WORKOS_API_KEY": wrongKey, "WORKOS_BASE_URL": server.baseURL]
        )
        #expect(result.status == 3, "\(result.stdout)\(result.stderr)")
        let (ok, steps) = try report(result)
        #expect(!ok)
        let connection = try #require(steps.first { $0["name"] == "connection" })
        #expect(connection["status"] == "fail")
        #expect(connection["detail"]?.contains("rejected the API key") == true)
        #expect(steps.filter { $0["status"] == "skip" }.count == 9, "every canary and key step is skipped")
        #expect(!result.stdout.contains(wrongKey) && !result.stderr.contains(wrongKey))
        #expect(result.stdout.contains("sk_…77c1"))
    }

    @Test func aClosedPortExitsFive() async throws {
        let result = try await cli.vault(
            ["doctor"],
            environment: [
                "WORKOS_API_KEY": Self.validKey, "WORKOS_BASE_URL": "http://127.0.0.1:1", "WORKOS_REQUEST_TIMEOUT": "5",
            ]
        )
        #expect(result.status == 5, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("✘ connection: the server did not answer"))
        #expect(result.stdout.contains("- create: not run"))
    }

    @Test func aKeyWithoutSkIsAConfigurationFailureAndIsNotPrinted() async throws {
        let badKey = "pk_doctor_not_a_secret_key"
        let result = try await cli.vault(["doctor"], environment: ["WORKOS_API_KEY": badKey])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("✘ api_key: WORKOS_API_KEY is set but does not start with sk_"))
        #expect(!result.stdout.contains(badKey) && !result.stderr.contains(badKey))

        let noKey = try await cli.vault(["doctor"], environment: ["WORKOS_BASE_URL": "http://127.0.0.1:1"])
        #expect(noKey.status == 1)
        #expect(noKey.stdout.contains("✘ api_key: WORKOS_API_KEY is not set but WORKOS_BASE_URL is"))
    }

    @Test func aCustomerManagedKeyIsReported() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vault-byok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        try key.base64EncodedString().write(
            to: folder.appendingPathComponent("org_byok.key"),
            atomically: true,
            encoding: .utf8
        )
        let configuration = folder.appendingPathComponent("byok.json")
        try Data(
            #"""
            {"customer_keys": [{"context_key": "organization_id", "context_value": "org_byok",
              "key_id": "cmk_doctor_test", "provider": "file", "path": "org_byok.key"}]}
            """#.utf8
        ).write(to: configuration)
        let server = try await ListeningProcess.vaultServe(
            apiKeys: Self.validKey,
            arguments: ["--customer-keys", configuration.path]
        )
        defer { server.stop() }
        let environment = ["WORKOS_API_KEY": Self.validKey, "WORKOS_BASE_URL": server.baseURL]

        let byok = try await cli.vault(["doctor", "--context", "organization_id=org_byok"], environment: environment)
        #expect(byok.status == 0, "\(byok.stdout)\(byok.stderr)")
        #expect(byok.stdout.contains("✔ key_management: customer-managed key (BYOK): cmk_doctor_test"))
        let managed = try await cli.vault(
            ["doctor", "--context", "organization_id=org_other"],
            environment: environment
        )
        #expect(managed.status == 0)
        #expect(managed.stdout.contains("✔ key_management: Vault-managed"))
        try await expectCanaryGone(environment: environment)
    }

    @Test func anEmbeddedStoreUnderAnotherRootKeyExitsFive() async throws {
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        #expect(try await cli.vault(["doctor"]).status == 0)
        let otherKey = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let result = try await cli.vault(["doctor"], environment: ["VAULT_ROOT_KEY": otherKey])
        #expect(result.status == 5, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("✘ connection: could not open the client"))
        #expect(!result.stdout.contains(otherKey) && !result.stderr.contains(otherKey))
    }

    /// The proxy needs python3; CI has it, so there its absence fails instead of skipping.
    static let canRunProxy = ListeningProcess.hasPython3 || ProcessInfo.processInfo.environment["CI"] == "true"

    @Test(.enabled(if: canRunProxy, "needs python3 for Tests/Interop/workos_like_proxy.py"))
    func aServerWithoutVersionNumbersIsCheckedByVersionID() async throws {
        let server = try await ListeningProcess.vaultServe(apiKeys: Self.validKey)
        defer { server.stop() }
        let proxy = try await ListeningProcess.workOSLikeProxy(upstream: server.baseURL)
        defer { proxy.stop() }
        let result = try await cli.vault(
            ["doctor"],
            environment: ["WORKOS_API_KEY": Self.validKey, "WORKOS_BASE_URL": proxy.baseURL]
        )
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(
            result.stdout.contains(
                "✔ update: updated the canary; no version numbers (WorkOS API), the version id changed"
            )
        )
        #expect(result.stdout.contains("✔ describe: metadata without the value: the new version id"))
        expectNoCanary(result)
        try await expectCanaryGone(environment: ["WORKOS_API_KEY": Self.validKey, "WORKOS_BASE_URL": server.baseURL])
    }

    @Test(.enabled(if: canRunProxy, "needs python3 for Tests/Interop/workos_like_proxy.py"))
    func theCanaryIsDeletedWhenALaterStepFails() async throws {
        let server = try await ListeningProcess.vaultServe(apiKeys: Self.validKey)
        defer { server.stop() }
        let proxy = try await ListeningProcess.workOSLikeProxy(upstream: server.baseURL, failUpdates: true)
        defer { proxy.stop() }
        let result = try await cli.vault(
            ["doctor", "--json"],
            environment: ["WORKOS_API_KEY": Self.validKey, "WORKOS_BASE_URL": proxy.baseURL]
        )
        #expect(result.status == 5, "\(result.stdout)\(result.stderr)")
        let (ok, steps) = try report(result)
        #expect(!ok)
        let statuses = Dictionary(steps.map { ($0["name"] ?? "", $0["status"] ?? "") }) { first, _ in first }
        #expect(statuses["update"] == "fail")
        #expect(statuses["describe"] == "skip" && statuses["delete"] == "skip" && statuses["read_deleted"] == "skip")
        #expect(statuses["cleanup"] == "pass", "the canary is deleted after the failed step")
        #expect(statuses["round_trip"] == "pass", "the key steps still run")
        expectNoCanary(result)
        try await expectCanaryGone(environment: ["WORKOS_API_KEY": Self.validKey, "WORKOS_BASE_URL": server.baseURL])
    }

    @Test func helpHasExamples() async throws {
        let help = try await cli.vault(["doctor", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Example"))
        #expect(help.stdout.contains("--context"))
        #expect(help.stdout.contains("--json"))
    }
}
