import Foundation
import Testing

/// `vault admin rotate-root-key` as an operator runs it: on root.key and on VAULT_ROOT_KEY, the
/// key never printed, the documented exit codes.
@Suite(.timeLimit(.minutes(2)))
struct RotateRootKeyCLITests {
    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test func rotatingRootKeyFileKeepsObjectsAndBlobsReadable() async throws {
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let created = try await cli.vault(
            ["kv", "create", "db/password", "--context", "organization_id=org_1"],
            input: "hunter2"
        )
        #expect(created.status == 0)
        let encrypted = try await cli.vault(["encrypt", "--context", "organization_id=org_2"], input: "4242")
        #expect(encrypted.status == 0)
        let blob = encrypted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let keyPath = cli.home + "/root.key"
        let oldKey = try Data(contentsOf: URL(fileURLWithPath: keyPath))

        let rotated = try await cli.vault(["admin", "rotate-root-key"])

        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("key-encrypting keys re-wrapped: 2"))
        #expect(rotated.stdout.contains("the new root key is in \(keyPath)"))
        let newKey = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        #expect(newKey != oldKey)
        #expect(try mode(keyPath) == 0o600)
        for output in [rotated.stdout, rotated.stderr] {
            #expect(!output.contains(newKey.base64EncodedString()))
            #expect(!output.contains(oldKey.base64EncodedString()))
        }
        #expect(try await cli.vault(["kv", "get", "--name", "db/password"]).stdout == "hunter2\n")
        #expect(try await cli.vault(["decrypt"], input: blob).stdout == "4242")
        let old = try await cli.vault(
            ["decrypt"],
            input: blob,
            environment: ["VAULT_ROOT_KEY": oldKey.base64EncodedString()]
        )
        #expect(old.status == 5)
        #expect(old.stderr.contains("root key does not match"))

        let misused = try await cli.vault(["admin", "rotate-root-key", "--new-key-file", cli.home + "/x"])
        #expect(misused.status == 1)
        #expect(misused.stderr.contains("--new-key-file is for a root key given in VAULT_ROOT_KEY"))
        let missing = try await cli.vault(["admin", "rotate-root-key", "--data-dir", cli.home + "/nowhere"])
        #expect(missing.status == 5)
        #expect(missing.stderr.contains("there is no vault store"))
    }

    @Test func rotatingRootKeyFromEnvironmentWritesNewKeyFile() async throws {
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let oldKey = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let old = ["VAULT_ROOT_KEY": oldKey]
        let encrypted = try await cli.vault(
            ["encrypt", "--context", "organization_id=org_1"],
            input: "4242",
            environment: old
        )
        #expect(encrypted.status == 0)
        let blob = encrypted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let noFile = try await cli.vault(["admin", "rotate-root-key"], environment: old)
        #expect(noFile.status == 1)
        #expect(noFile.stderr.contains("pass --new-key-file FILE"))

        let newKeyFile = cli.home + "/root.key.new"
        let rotated = try await cli.vault(["admin", "rotate-root-key", "--new-key-file", newKeyFile], environment: old)

        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("the new root key (base64) is in \(newKeyFile)"))
        #expect(rotated.stdout.contains("set VAULT_ROOT_KEY to the content of that file"))
        #expect(try mode(newKeyFile) == 0o600)
        let newKey = try String(contentsOfFile: newKeyFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        for output in [rotated.stdout, rotated.stderr] {
            #expect(!output.contains(newKey))
            #expect(!output.contains(oldKey))
        }
        let refused = try await cli.vault(["decrypt"], input: blob, environment: old)
        #expect(refused.status == 5)
        #expect(refused.stderr.contains("new key written to \(newKeyFile)"))
        #expect(!refused.stderr.contains(newKey))
        #expect(try await cli.vault(["decrypt"], input: blob, environment: ["VAULT_ROOT_KEY": newKey]).stdout == "4242")
    }

    @Test func rotationIsRefusedWhileVaultServeRuns() async throws {
        let server = try await ListeningProcess.vaultServe(apiKeys: "sk_test_rotation")
        defer { server.stop() }
        let folder = server.folder
        let keyPath = folder + "/root.key"
        let before = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        let cli = VaultCLITests()
        let refused = try await cli.vault(["admin", "rotate-root-key", "--data-dir", folder])
        #expect(refused.status == 5)
        #expect(refused.stderr.contains("is open in another process (a running vault serve?): stop it first"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: keyPath)) == before)
        #expect(!FileManager.default.fileExists(atPath: keyPath + ".next"))
    }
}
