import Foundation
import Testing

/// `vault admin rotate-kek`, `rewrap` and `retire-kek-versions` as an operator runs them.
@Suite(.timeLimit(.minutes(3)))
struct KEKRotationCLITests {
    @Test func rotateRewrapAndRetireKeepObjectsReadableAndRefuseRetiredBlobs() throws {
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let created = try cli.vault(
            ["kv", "create", "db/password", "--context", "organization_id=org_1"],
            input: "hunter2"
        )
        #expect(created.status == 0)
        let encrypted = try cli.vault(["encrypt", "--context", "organization_id=org_1"], input: "4242")
        #expect(encrypted.status == 0)
        let blob = encrypted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let rotated = try cli.vault(["admin", "rotate-kek", "--context", "organization_id=org_1"])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("organization_id=org_1: now version 2"))
        #expect(try cli.vault(["kv", "get", "--name", "db/password"]).stdout == "hunter2\n")
        #expect(try cli.vault(["decrypt"], input: blob).stdout == "4242")

        let refused = try cli.vault([
            "admin", "retire-kek-versions", "--context", "organization_id=org_1", "--below", "2",
        ])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("refused: 1 stored object versions still use a version below 2"))

        let rewrapped = try cli.vault(["admin", "rewrap"])
        #expect(rewrapped.status == 0, "\(rewrapped.stderr)")
        #expect(rewrapped.stdout.contains("re-wrapped: 1"))
        #expect(rewrapped.stderr.contains("1 versions read, 1 re-wrapped"))
        let again = try cli.vault(["admin", "rewrap"])
        #expect(again.stdout.contains("re-wrapped: 0"))
        #expect(again.stdout.contains("already current (skipped): 1"))

        let retired = try cli.vault([
            "admin", "retire-kek-versions", "--context", "organization_id=org_1", "--below", "2",
        ])
        #expect(retired.status == 0, "\(retired.stderr)")
        #expect(retired.stdout.contains("retired 1 key-encrypting key versions below 2"))
        #expect(retired.stdout.contains("encrypted keys held by clients cannot be counted"))
        #expect(try cli.vault(["kv", "get", "--name", "db/password"]).stdout == "hunter2\n")
        let old = try cli.vault(["decrypt"], input: blob)
        #expect(old.status != 0)
        #expect(!old.stdout.contains("4242"))
        let fresh = try cli.vault(["encrypt", "--context", "organization_id=org_1"], input: "77")
        let freshBlob = fresh.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try cli.vault(["decrypt"], input: freshBlob).stdout == "77")

        let tooHigh = try cli.vault([
            "admin", "retire-kek-versions", "--context", "organization_id=org_1", "--below", "3",
        ])
        #expect(tooHigh.status == 2)
    }

    @Test func kekCommandsAreRefusedWhileVaultServeRuns() throws {
        let server = try ListeningProcess.vaultServe(apiKeys: "sk_test_kek")
        defer { server.stop() }
        let folder = try #require(server.process.arguments?.last)
        let cli = VaultCLITests()
        for arguments in [
            ["admin", "rotate-kek", "--context", "organization_id=org_1", "--data-dir", folder],
            ["admin", "rewrap", "--data-dir", folder],
            [
                "admin", "retire-kek-versions", "--context", "organization_id=org_1", "--below", "2", "--data-dir",
                folder,
            ],
        ] {
            let refused = try cli.vault(arguments)
            #expect(refused.status == 5)
            #expect(refused.stderr.contains("is open in another process (a running vault serve?): stop it first"))
        }
    }
}
