import Foundation
import Testing

/// What the CLI says when a command line is wrong or a run fails (issue 15, section 3): refused
/// repeated `--context` keys, `--layout` help that lists what is accepted, `kv get`'s message,
/// no usage line after a runtime failure, a reason for an unreadable file, `--version`, and a
/// suggestion for a mistyped subcommand.
@Suite(.timeLimit(.minutes(2)))
struct CLIUsageMessagesTests {
    let cli = VaultCLITests()

    @Test func aRepeatedContextKeyIsRefused() async throws {
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        for command in [["encrypt"], ["kv", "create", "n"], ["keys", "data-key"], ["rekey"]] {
            let result = try await cli.vault(
                command + ["--context", "organization_id=org_1", "--context", "organization_id=org_2"],
                input: "x"
            )
            #expect(result.status == 1, "\(command)")
            #expect(result.stderr.contains("--context organization_id is given more than once"), "\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: cli.home + "/vault.sqlite"), "refused before any store opens")
        let distinct = try await cli.vault(
            ["encrypt", "--context", "organization_id=org_1", "--context", "region=eu"],
            input: "x"
        )
        #expect(distinct.status == 0)
    }

    @Test func encryptOffersOnlyTheLayoutsItWrites() async throws {
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let encryptHelp = try await cli.vault(["encrypt", "--help"]).stdout
        #expect(!encryptHelp.contains("legacy-a"))
        #expect(encryptHelp.contains("--layout <layout>"))
        let refused = try await cli.vault(["encrypt", "--context", "a=b", "--layout", "legacy-a"], input: "x")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("'a'") && refused.stderr.contains("'b'"), "\(refused.stderr)")
        #expect(try await cli.vault(["encrypt", "--context", "a=b", "--layout", "B"], input: "x").status == 0)

        // Decrypt reads the legacy layout, and says so.
        #expect(try await cli.vault(["decrypt", "--help"]).stdout.contains("legacy-a"))
    }

    @Test func kvGetSaysWhatIsMissing() async throws {
        let neither = try await cli.vault(["kv", "get"])
        #expect(neither.status == 1)
        #expect(neither.stderr.contains("give the object's id or --name"))
        #expect(!neither.stderr.contains("not both"))
        let both = try await cli.vault(["kv", "get", "some-id", "--name", "n"])
        #expect(both.status == 1)
        #expect(both.stderr.contains("not both"))
    }

    @Test func aFailedRunPrintsItsReasonWithoutTheUsageLine() async throws {
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let missing = cli.home + "-missing.txt"
        let unreadable = try await cli.vault(["encrypt", "--context", "a=b", "--in", missing])
        #expect(unreadable.status == 1)
        #expect(unreadable.stderr == "vault: cannot read \(missing): No such file or directory\n")
        let folder = try await cli.vault(["kv", "create", "n", "--context", "a=b", "--value-file", "/"])
        #expect(folder.status == 1)
        #expect(folder.stderr == "vault: cannot read /: Is a directory\n")

        // A command line that does not parse still shows its usage.
        let usage = try await cli.vault(["encrypt", "--no-such-flag"])
        #expect(usage.status == 1)
        #expect(usage.stderr.contains("Usage: vault encrypt"))
    }

    @Test func versionIsPrinted() async throws {
        let version = try await cli.vault(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).first?.isNumber == true)
        #expect(try await cli.vault(["--help"]).stdout.contains("--version"))
    }

    @Test(arguments: [
        (["encrpyt"], "did you mean 'vault encrypt'?"),
        (["decrypy"], "did you mean 'vault decrypt'?"),
        (["kv", "gte"], "did you mean 'vault kv get'?"),
        (["keys", "data_key"], "did you mean 'vault keys data-key'?"),
    ])
    func aMistypedSubcommandGetsASuggestion(arguments: [String], hint: String) async throws {
        let result = try await cli.vault(arguments)
        #expect(result.status == 1)
        #expect(result.stderr.contains(hint), "\(result.stderr)")
    }

    @Test func aWordNothingLikeASubcommandGetsNoSuggestion() async throws {
        let result = try await cli.vault(["frobnicate"])
        #expect(result.status == 1)
        #expect(!result.stderr.contains("did you mean"))
    }
}
