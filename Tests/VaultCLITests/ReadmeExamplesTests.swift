import Foundation
import TestProcesses
import Testing

/// The README's CLI examples run as written: the block after "## The CLI" that the README says
/// runs top to bottom, in an empty folder, with the built `vault` first on the `PATH`.
@Suite(.timeLimit(.minutes(2)))
struct ReadmeExamplesTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("README.md")

    /// The second `sh` block of the section (the first one builds the binary).
    static func cliExamples() throws -> String {
        let text = try String(contentsOf: readme, encoding: .utf8)
        let section = try #require(text.range(of: "\n## The CLI\n"), "README.md has no CLI section")
        var blocks: [String] = []
        var current: [Substring]?
        for line in text[section.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { break }
            if current == nil, line == "```sh" {
                current = []
            } else if let lines = current, line == "```" {
                blocks.append(lines.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(line)
            }
        }
        try #require(blocks.count >= 2, "the CLI section has no examples block")
        return blocks[1]
    }

    @Test func theCLIExamplesRunAsWritten() async throws {
        let examples = try Self.cliExamples()
        #expect(examples.contains("vault kv create"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data(examples.utf8).write(to: URL(fileURLWithPath: folder + "/examples.sh"))

        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("WORKOS_") && !$0.key.hasPrefix("VAULT_")
        }
        let binaries = VaultCLITests.binary.deletingLastPathComponent().path
        environment["PATH"] = binaries + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        let quoted = "'" + folder.replacingOccurrences(of: "'", with: "'\\''") + "'"
        let run = try await ChildProcess.run(
            "/bin/bash",
            ["-euo", "pipefail", "-c", "cd \(quoted) && source ./examples.sh"],
            environment: environment
        )
        #expect(run.status == 0, "the README's CLI examples failed:\n\(run.error)")
        #expect(run.outputText.contains("4242 4242 4242 4242"), "the card did not decrypt")
        #expect(run.outputText.contains("sk_live_rotated"), "the update did not show")
        let saved = try String(contentsOfFile: folder + "/stripe.key", encoding: .utf8)
        #expect(saved == "sk_live_example", "--raw must write the value exactly")
    }
}
