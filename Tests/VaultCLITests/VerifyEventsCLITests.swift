import Foundation
import Testing

/// `vault admin verify-events` as an operator runs it: counts on an intact chain, the first
/// broken link named (event id and sequence, exit 1) on a tampered one.
@Suite(.timeLimit(.minutes(2)))
struct VerifyEventsCLITests {
    @Test func verifiesTheChainAndNamesTheFirstBrokenLink() async throws {
        let cli = VaultCLITests()
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let empty = try await cli.vault(["admin", "verify-events"])
        #expect(empty.status == 5, "no store yet: \(empty.stderr)")

        // Two rotations and two retirements: `vault.kek.created` and `vault.kek.deleted` each (the
        // only events the CLI records).
        #expect(try await cli.vault(["kv", "create", "db/password", "--context", "tenant=t1"], input: "x").status == 0)
        for version in [2, 3] {
            #expect(try await cli.vault(["admin", "rotate-kek", "--context", "tenant=t1"]).status == 0)
            #expect(try await cli.vault(["admin", "rewrap"]).status == 0)
            let retired = try await cli.vault([
                "admin", "retire-kek-versions", "--context", "tenant=t1", "--below", "\(version)",
            ])
            #expect(retired.status == 0, "\(retired.stderr)")
        }
        let intact = try await cli.vault(["admin", "verify-events"])
        #expect(intact.status == 0, "\(intact.stderr)")
        #expect(intact.stdout == "environment_local: 4 events intact (sequences 1 to 4)\n")

        let store = (cli.home as NSString).appendingPathComponent("vault.sqlite")
        try await CLITestDatabase.sqlite(
            store,
            "UPDATE events SET data = replace(data, 'admin', 'mallory') WHERE sequence = 1"
        )
        let broken = try await cli.vault(["admin", "verify-events"])
        #expect(broken.status == 1)
        #expect(broken.stdout.contains(#/^environment_local: BROKEN at event event_[0-9A-Z]{26}, sequence 1: /#))
        #expect(broken.stdout.contains("altered"))
    }
}
