import Foundation
import Testing

/// `vault admin rotate-kek`, `rewrap` and `retire-kek-versions` as an operator runs them.
@Suite(.timeLimit(.minutes(3)))
struct KEKRotationCLITests {
    @Test func rotateRewrapAndRetireKeepObjectsReadableAndRefuseRetiredBlobs() async throws {
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let created = try await cli.vault(
            ["kv", "create", "db/password", "--context", "organization_id=org_1"],
            input: "hunter2"
        )
        #expect(created.status == 0)
        let encrypted = try await cli.vault(["encrypt", "--context", "organization_id=org_1"], input: "4242")
        #expect(encrypted.status == 0)
        let blob = encrypted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let rotated = try await cli.vault(["admin", "rotate-kek", "--context", "organization_id=org_1"])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("organization_id=org_1: now version 2"))
        #expect(try await cli.vault(["kv", "get", "--name", "db/password"]).stdout == "hunter2\n")
        #expect(try await cli.vault(["decrypt"], input: blob).stdout == "4242")

        let refused = try await cli.vault([
            "admin", "retire-kek-versions", "--context", "organization_id=org_1", "--below", "2",
        ])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("refused: 1 stored object versions still use a version below 2"))

        let rewrapped = try await cli.vault(["admin", "rewrap"])
        #expect(rewrapped.status == 0, "\(rewrapped.stderr)")
        #expect(rewrapped.stdout.contains("re-wrapped: 1"))
        #expect(rewrapped.stderr.contains("1 versions read, 1 re-wrapped"))
        let again = try await cli.vault(["admin", "rewrap"])
        #expect(again.stdout.contains("re-wrapped: 0"))
        #expect(again.stdout.contains("already current (skipped): 1"))

        let retired = try await cli.vault([
            "admin", "retire-kek-versions", "--context", "organization_id=org_1", "--below", "2",
        ])
        #expect(retired.status == 0, "\(retired.stderr)")
        #expect(retired.stdout.contains("retired 1 key-encrypting key versions below 2"))
        #expect(retired.stdout.contains("encrypted keys held by clients cannot be counted"))
        #expect(try await cli.vault(["kv", "get", "--name", "db/password"]).stdout == "hunter2\n")
        let old = try await cli.vault(["decrypt"], input: blob)
        #expect(old.status != 0)
        #expect(!old.stdout.contains("4242"))
        let fresh = try await cli.vault(["encrypt", "--context", "organization_id=org_1"], input: "77")
        let freshBlob = fresh.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await cli.vault(["decrypt"], input: freshBlob).stdout == "77")

        let tooHigh = try await cli.vault([
            "admin", "retire-kek-versions", "--context", "organization_id=org_1", "--below", "3",
        ])
        #expect(tooHigh.status == 2)
    }

    @Test func kekCommandsAreRefusedWhileVaultServeRuns() async throws {
        let server = try await ListeningProcess.vaultServe(apiKeys: "sk_test_kek")
        defer { server.stop() }
        let folder = server.folder
        let cli = VaultCLITests()
        for arguments in [
            ["admin", "rotate-kek", "--context", "organization_id=org_1", "--data-dir", folder],
            ["admin", "rewrap", "--data-dir", folder],
            [
                "admin", "retire-kek-versions", "--context", "organization_id=org_1", "--below", "2", "--data-dir",
                folder,
            ],
        ] {
            let refused = try await cli.vault(arguments)
            #expect(refused.status == 5)
            #expect(refused.stderr.contains("is open in another process (a running vault serve?): stop it first"))
        }
    }
}
