import Foundation
import TestProcesses
import Testing

/// The `vault` binary as a user runs it: exit codes, output, the embedded default.
@Suite(.timeLimit(.minutes(2)))
struct VaultCLITests {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `vault` executable built next to this test bundle.
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("vault")

    let home = FileManager.default.temporaryDirectory.appendingPathComponent("vault-cli-\(UUID().uuidString)").path

    /// Runs the binary in this test's `VAULT_HOME`; its standard output is a file unless
    /// `outputThroughPipe`.
    func vault(
        _ arguments: [String],
        input: String = "",
        environment: [String: String] = [:],
        outputThroughPipe: Bool = false
    ) async throws -> Result {
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WORKOS_") }
        base["VAULT_HOME"] = home
        let finished = try await ChildProcess.run(
            Self.binary.path,
            arguments,
            environment: base.merging(environment) { _, new in new },
            input: Data(input.utf8),
            outputThroughPipe: outputThroughPipe
        )
        return Result(status: finished.status, stdout: finished.outputText, stderr: finished.error)
    }

    @Test func anEmbeddedStoreUnderAnotherRootKeyIsRefusedAsAServiceFailure() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        #expect(try await vault(["encrypt", "--context", "organization_id=org_1"], input: "4242").status == 0)
        let otherKey = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let refused = try await vault(
            ["encrypt", "--context", "organization_id=org_1"],
            input: "4242",
            environment: ["VAULT_ROOT_KEY": otherKey]
        )
        #expect(refused.status == 5)
        #expect(refused.stderr.contains("root key does not match"))
        #expect(!refused.stderr.contains(otherKey))
    }

    @Test func encryptDecryptAndRekeyOnTheEmbeddedDefault() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let encrypted = try await vault(
            ["encrypt", "--context", "organization_id=org_1", "--aad", "u1"],
            input: "4242 4242"
        )
        #expect(encrypted.status == 0)
        let blob = encrypted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!blob.contains("4242"))
        #expect(
            FileManager.default.fileExists(atPath: home + "/vault.sqlite"),
            "the embedded store lives in VAULT_HOME"
        )

        #expect(try await vault(["decrypt", "--aad", "u1"], input: blob).stdout == "4242 4242")
        let wrong = try await vault(["decrypt", "--aad", "u2"], input: blob)
        #expect(wrong.status == 4)
        #expect(wrong.stderr.contains("authentication failed"))
        #expect(try await vault(["decrypt"], input: "not a blob").status == 4)

        let moved = try await vault(["rekey", "--context", "organization_id=org_2"], input: blob)
        #expect(moved.status == 0)
        #expect(try await vault(["decrypt", "--aad", "u1"], input: moved.stdout).stdout == "4242 4242")

        let layoutB = try await vault(["encrypt", "--context", "a=b", "--layout", "b", "--json"], input: "x")
        let json = try JSONSerialization.jsonObject(with: Data(layoutB.stdout.utf8)) as? [String: String]
        #expect(json?["layout"] == "B")
        #expect(
            try await vault(["decrypt", "--json"], input: json?["blob"] ?? "").stdout.contains(#""plaintext":"x""#)
        )
    }

    @Test func objectsAndTheirExitCodes() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let created = try await vault(
            ["kv", "create", "db/password", "--context", "organization_id=org_1", "--json"],
            input: "hunter2"
        )
        #expect(created.status == 0)
        let metadata = try #require(try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])
        let id = try #require(metadata["id"] as? String)
        let version = try #require(metadata["version_id"] as? String)
        #expect(!created.stdout.contains("hunter2"))

        #expect(try await vault(["kv", "get", id]).stdout == "hunter2\n")
        #expect(try await vault(["kv", "get", "--name", "db/password"]).stdout == "hunter2\n")
        #expect(
            try await vault(["kv", "create", "db/password", "--context", "organization_id=org_1"], input: "x").status
                == 2
        )
        #expect(try await vault(["kv", "update", id, "--version-check", version], input: "hunter3").status == 0)
        #expect(try await vault(["kv", "update", id, "--version-check", version], input: "lost").status == 2)
        #expect(try await vault(["kv", "versions", id]).stdout.split(separator: "\n").count == 2)
        #expect(try await vault(["kv", "describe", id]).stdout.contains("organization_id=org_1"))
        #expect(try await vault(["kv", "list"]).stdout.contains("db/password"))
        #expect(try await vault(["kv", "delete", id]).status == 0)
        #expect(try await vault(["kv", "get", id]).status == 2)
    }

    @Test func usageConfigurationAndNetworkFailures() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let noContext = try await vault(["encrypt"], input: "x")
        #expect(noContext.status == 1)
        #expect(noContext.stderr.contains("at least 1 pair"))
        #expect(try await vault(["encrypt", "--context", "a"], input: "x").status == 1)
        let badKey = try await vault(
            ["encrypt", "--context", "a=b"],
            input: "x",
            environment: ["WORKOS_API_KEY": "pk_oops"]
        )
        #expect(badKey.status == 1)
        #expect(badKey.stderr.contains("sk_"))
        #expect(!badKey.stderr.contains("pk_oops"))
        let unreachable = try await vault(
            ["encrypt", "--context", "a=b"],
            input: "x",
            environment: [
                "WORKOS_API_KEY": "sk_test_x", "WORKOS_BASE_URL": "http://127.0.0.1:1", "WORKOS_REQUEST_TIMEOUT": "2",
            ]
        )
        #expect(unreachable.status == 5)
    }

    @Test(arguments: [
        ["encrypt"], ["decrypt"], ["rekey"], ["kv", "create"], ["kv", "get"], ["kv", "update"], ["kv", "delete"],
        ["kv", "list"], ["kv", "describe"], ["kv", "versions"], ["keys", "data-key"], ["keys", "decrypt"],
        ["keys", "rekey"],
        ["serve"], ["doctor"],
    ])
    func everyCommandHasHelpWithExamples(command: [String]) async throws {
        let help = try await vault(command + ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Example"), "\(command.joined(separator: " ")) --help has no example")
    }

    @Test func theKeyCommands() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        let issued = try await vault(["keys", "data-key", "--context", "organization_id=org_1", "--json"])
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(issued.stdout.utf8)) as? [String: String])
        let unwrapped = try await vault(["keys", "decrypt", "--json"], input: keys["encrypted_keys"] ?? "")
        let decrypted = try #require(
            try JSONSerialization.jsonObject(with: Data(unwrapped.stdout.utf8)) as? [String: String]
        )
        #expect(decrypted["data_key"] == keys["data_key"])
        let rekeyed = try await vault(
            ["keys", "rekey", "--context", "organization_id=org_2", "--json"],
            input: keys["encrypted_keys"] ?? ""
        )
        #expect(rekeyed.stdout.contains(keys["data_key"] ?? "missing"))
    }
}
