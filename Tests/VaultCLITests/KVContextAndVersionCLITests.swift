import Foundation
import Testing

/// `vault kv` with `--context` (only objects of exactly that context) and version numbers
/// (`get --version`, `update --expected-version`), on the embedded default.
@Suite(.timeLimit(.minutes(2)))
struct KVContextAndVersionCLITests {
    @Test func contextsAndVersionNumbers() async throws {
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let created = try await cli.vault(
            ["kv", "create", "db/password", "--context", "organization_id=org_1", "--context", "region=eu", "--json"],
            input: "one"
        )
        #expect(created.status == 0)
        let metadata = try #require(try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])
        let id = try #require(metadata["id"] as? String)
        #expect(metadata["version"] as? Int == 1)
        let own = ["--context", "organization_id=org_1", "--context", "region=eu"]
        let other = ["--context", "organization_id=org_1"]  // a missing pair

        #expect(try await cli.vault(["kv", "update", id, "--expected-version", "1"] + own, input: "two").status == 0)
        #expect(try await cli.vault(["kv", "update", id, "--expected-version", "1"], input: "lost").status == 2)
        #expect(try await cli.vault(["kv", "update", id] + other, input: "lost").status == 2)

        #expect(try await cli.vault(["kv", "get", id, "--version", "1"]).stdout == "one\n")
        #expect(try await cli.vault(["kv", "get", id, "--version", "2"] + own).stdout == "two\n")
        #expect(try await cli.vault(["kv", "get", id, "--version", "3"]).status == 2)
        #expect(try await cli.vault(["kv", "get", id, "--version", "1"] + other).status == 2)
        #expect(try await cli.vault(["kv", "get", "--name", "db/password"] + own).stdout == "two\n")
        let mismatch = try await cli.vault(["kv", "get", "--name", "db/password"] + other)
        #expect(mismatch.status == 2)
        #expect(!mismatch.stdout.contains("two") && !mismatch.stderr.contains("two"))

        #expect(try await cli.vault(["kv", "describe", id] + own).stdout.contains("version number: 2"))
        #expect(try await cli.vault(["kv", "describe", id] + other).status == 2)
        #expect(try await cli.vault(["kv", "versions", id] + own).stdout.split(separator: "\n").count == 2)
        #expect(try await cli.vault(["kv", "versions", id] + other).status == 2)
        #expect(try await cli.vault(["kv", "list"] + own).stdout.contains("db/password"))
        let otherList = try await cli.vault(["kv", "list"] + other)
        #expect(otherList.status == 0)
        #expect(!otherList.stdout.contains("db/password"))

        #expect(try await cli.vault(["kv", "delete", id] + other).status == 2)
        #expect(try await cli.vault(["kv", "delete", id] + own).status == 0)
        #expect(try await cli.vault(["kv", "get", id]).status == 2)
    }

    @Test func versionNeedsAnIdAndAPositiveNumber() async throws {
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        #expect(try await cli.vault(["kv", "get", "--name", "n", "--version", "1"]).status == 1)
        #expect(try await cli.vault(["kv", "get", "some-id", "--version", "0"]).status == 1)
    }
}
