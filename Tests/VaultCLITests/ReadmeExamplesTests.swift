import Foundation
import TestProcesses
import Testing

/// The README's examples run as written: each `sh` block after a `<!-- test: runs as written -->`
/// line, in an empty folder of its own, with the built `vault` first on the `PATH`.
@Suite(.timeLimit(.minutes(2)))
struct ReadmeExamplesTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("README.md")
    static let marker = "<!-- test: runs as written -->"

    /// The marked blocks, in order.
    static func markedBlocks() throws -> [String] {
        let lines = try String(contentsOf: readme, encoding: .utf8).split(
            separator: "\n",
            omittingEmptySubsequences: false
        )
        var blocks: [String] = []
        var index = 0
        while index < lines.count {
            defer { index += 1 }
            guard lines[index] == marker, index + 1 < lines.count, lines[index + 1] == "```sh" else { continue }
            let body = lines[(index + 2)...].prefix { $0 != "```" }
            blocks.append(body.joined(separator: "\n"))
            index += 1 + body.count
        }
        return blocks
    }

    @Test func theMarkedBlocksAreTheCLIAndFileExamples() throws {
        let blocks = try Self.markedBlocks()
        #expect(blocks.count == 2)
        #expect(blocks.first?.contains("vault kv create") == true)
        #expect(blocks.last?.contains("--binary") == true)
    }

    @Test(arguments: 0..<2)
    func theExamplesRunAsWritten(block index: Int) async throws {
        let blocks = try Self.markedBlocks()
        try #require(blocks.indices.contains(index))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data(blocks[index].utf8).write(to: URL(fileURLWithPath: folder + "/examples.sh"))

        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("WORKOS_") && !$0.key.hasPrefix("VAULT_")
        }
        let binaries = VaultCLITests.binary.deletingLastPathComponent().path
        environment["PATH"] = binaries + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        // `mktemp -d` in an example makes its folder in here, not in the machine's /tmp.
        environment["TMPDIR"] = folder
        let quoted = "'" + folder.replacingOccurrences(of: "'", with: "'\\''") + "'"
        let run = try await ChildProcess.run(
            "/bin/bash",
            ["-euo", "pipefail", "-c", "cd \(quoted) && source ./examples.sh"],
            environment: environment
        )
        #expect(run.status == 0, "README example block \(index + 1) failed:\n\(run.error)")
        if index == 0 {
            #expect(run.outputText.contains("4242 4242 4242 4242"), "the card did not decrypt")
            #expect(run.outputText.contains("sk_live_rotated"), "the update did not show")
            let saved = try String(contentsOfFile: folder + "/stripe.key", encoding: .utf8)
            #expect(saved == "sk_live_example", "--raw must write the value exactly")
        }
    }
}
