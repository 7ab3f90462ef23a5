import Foundation
import Testing

/// Exit codes the README's table promises (issue 15, section 3): a blob or keys from another store
/// and input that is not a keys blob are decryption failures (4); a read-only command never
/// creates a store where there is none (5, as an unreachable server).
@Suite(.timeLimit(.minutes(2)))
struct CLIExitCodeTests {
    let cli = VaultCLITests()
    let other = VaultCLITests()

    func removeAll() {
        for path in [cli.home, other.home] { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func aBlobOrKeysFromAnotherStoreExitFour() async throws {
        defer { removeAll() }
        let blob = try await cli.vault(["encrypt", "--context", "organization_id=org_1"], input: "4242")
        try #require(blob.status == 0)
        let keys = try await cli.vault(["keys", "data-key", "--context", "organization_id=org_1", "--json"])
        try #require(keys.status == 0)
        // The other store exists (it made a blob of its own), so only the foreign input is wrong.
        try #require(try await other.vault(["encrypt", "--context", "organization_id=org_1"], input: "x").status == 0)

        let decrypted = try await other.vault(["decrypt"], input: blob.stdout)
        #expect(decrypted.status == 4, "\(decrypted.stderr)")
        #expect(!decrypted.stdout.contains("4242"))
        let rekeyed = try await other.vault(["rekey", "--context", "organization_id=org_2"], input: blob.stdout)
        #expect(rekeyed.status == 4, "\(rekeyed.stderr)")
        #expect(try await other.vault(["keys", "decrypt"], input: keys.stdout).status == 4)
        #expect(
            try await other.vault(["keys", "rekey", "--context", "organization_id=org_2"], input: keys.stdout).status
                == 4
        )
    }

    @Test(arguments: ["aGVsbG8gd29ybGQ=", "AAAA", "V09TLkVLTS52MQA="])
    func base64ThatIsNotAKeysBlobExitsFour(input: String) async throws {
        defer { removeAll() }
        try #require(try await cli.vault(["encrypt", "--context", "a=b"], input: "x").status == 0)
        let result = try await cli.vault(["keys", "decrypt"], input: input)
        #expect(result.status == 4, "\(result.stderr)")
        #expect(!result.stderr.contains("Usage"))
        #expect(try await cli.vault(["keys", "rekey", "--context", "a=c"], input: input).status == 4)
    }

    @Test func readOnlyCommandsNeverCreateAStore() async throws {
        defer { removeAll() }
        let blob = try await cli.vault(["encrypt", "--context", "organization_id=org_1"], input: "4242").stdout
        let mistyped = other.home
        let readOnly: [([String], String)] = [
            (["decrypt"], blob), (["rekey", "--context", "a=b"], blob), (["kv", "get", "some-id"], ""),
            (["kv", "get", "--name", "n"], ""), (["kv", "list"], ""), (["kv", "describe", "some-id"], ""),
            (["kv", "versions", "some-id"], ""), (["kv", "delete", "some-id"], ""), (["kv", "update", "some-id"], "v"),
            (["keys", "decrypt"], "AAAA"), (["keys", "rekey", "--context", "a=b"], "AAAA"),
        ]
        for (command, input) in readOnly {
            let result = try await other.vault(command, input: input)
            #expect(result.status == 5, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("there is no vault store in \(mistyped)"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: mistyped), "\(command) created \(mistyped)")
        }
        // Commands that store something create the store, as before.
        #expect(try await other.vault(["kv", "create", "n", "--context", "a=b"], input: "v").status == 0)
        #expect(try await other.vault(["kv", "get", "--name", "n"]).stdout == "v\n")
    }
}
