import Foundation
import TestProcesses
import Testing

/// The examples in `deploy/` (not built in CI): the Dockerfile and the systemd unit have the
/// shape the README promises, and every flag they pass to `vault serve` exists.
@Suite struct DeployFilesTests {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy")

    /// The logical lines of a file: `\` continuations joined, blank lines and `#` comments dropped.
    static func logicalLines(_ name: String) throws -> [String] {
        let text = try String(contentsOf: deploy.appendingPathComponent(name), encoding: .utf8)
        var lines: [String] = []
        var pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if pending.isEmpty, line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
            } else {
                lines.append(pending + line)
                pending = ""
            }
        }
        return lines
    }

    /// `vault serve --help`, from the built binary.
    static func serveHelp() async throws -> String {
        try await ChildProcess.run(VaultCLITests.binary.path, ["serve", "--help"]).outputText
    }

    /// The `--flags` among `words` that `vault serve --help` does not list.
    static func unknownFlags(in words: [String]) async throws -> [String] {
        let help = try await serveHelp()
        #expect(help.contains("--port"), "no usable help output")
        return words.filter { $0.hasPrefix("--") }.filter { flag in
            ![" ", ",", "\n", "="].contains { help.contains(flag + $0) }
        }
    }

    /// A Dockerfile instruction: its keyword (upper case) and the rest.
    struct Instruction {
        var keyword: String
        var arguments: String
        /// The arguments of the exec (JSON array) form.
        var execForm: [String]? {
            try? JSONDecoder().decode([String].self, from: Data(arguments.utf8))
        }
    }

    @Test("Dockerfile: a Swift build stage, a slim runtime stage, a user that is not root, vault serve")
    func dockerfile() async throws {
        let instructions = try Self.logicalLines("Dockerfile").map { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            return Instruction(
                keyword: parts[0].uppercased(),
                arguments: parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : ""
            )
        }
        let stages = instructions.indices.filter { instructions[$0].keyword == "FROM" }
        try #require(stages.count >= 2, "a multi-stage build")
        let build = instructions[stages[0]].arguments.split(separator: " ").map(String.init)
        #expect(build.first?.hasPrefix("swift:6.3.1") == true && build.first?.contains("bookworm") == true)
        #expect(build.count == 3 && build[1].uppercased() == "AS")
        let buildStage = instructions[stages[0]..<stages[stages.count - 1]]
        let buildRuns = buildStage.filter { $0.keyword == "RUN" }.map(\.arguments).joined(separator: "\n")
        #expect(buildRuns.contains("libssl-dev") && buildRuns.contains("libcurl4-openssl-dev"))
        #expect(buildRuns.contains("swift build -c release") && buildRuns.contains("--product vault"))
        #expect(buildRuns.contains("--static-swift-stdlib"))

        let runtime = instructions[stages[stages.count - 1]...]
        #expect(runtime.first?.arguments == "debian:bookworm-slim")
        let runtimeRuns = runtime.filter { $0.keyword == "RUN" }.map(\.arguments).joined(separator: "\n")
        for package in ["libssl3", "libcurl4", "ca-certificates"] { #expect(runtimeRuns.contains(package)) }
        #expect(runtime.contains { $0.keyword == "COPY" && $0.arguments.hasPrefix("--from=\(build[2]) ") })

        let users = runtime.filter { $0.keyword == "USER" }.map(\.arguments)
        let user = try #require(users.last, "the runtime stage sets a USER")
        #expect(!["root", "0"].contains(user.split(separator: ":").first.map(String.init) ?? ""))
        #expect(runtime.contains { $0.keyword == "VOLUME" })
        let exposed = try #require(runtime.last { $0.keyword == "EXPOSE" }?.arguments)
        #expect(runtime.last { $0.keyword == "ENTRYPOINT" }?.execForm == ["vault", "serve"])
        let command = try #require(runtime.last { $0.keyword == "CMD" }?.execForm, "CMD in exec form")
        // The port served is the one exposed, on all addresses, over TLS.
        #expect(command.firstIndex(of: "--port").map { command[$0 + 1] } == exposed)
        #expect(command.firstIndex(of: "--host").map { command[$0 + 1] } == "0.0.0.0")
        #expect(command.contains("--tls-cert") && command.contains("--tls-key"))
        #expect(try await Self.unknownFlags(in: command) == [])
    }

    @Test("vault.service: a non-root user, vault serve, reload with SIGHUP, hardening")
    func systemdUnit() async throws {
        var sections: [String: [(key: String, value: String)]] = [:]
        var current = ""
        for line in try Self.logicalLines("vault.service") {
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = line
                sections[current, default: []] = []
            } else if let equals = line.firstIndex(of: "=") {
                try #require(!current.isEmpty, "a setting outside a section: \(line)")
                let key = String(line[..<equals]).trimmingCharacters(in: .whitespaces)
                let value = String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
                sections[current]?.append((key, value))
            }
        }
        #expect(Set(sections.keys) == ["[Unit]", "[Service]", "[Install]"])
        let service = sections["[Service]"] ?? []
        func value(_ key: String) -> String? { service.last { $0.key == key }?.value }

        let user = try #require(value("User"))
        #expect(!user.isEmpty && user != "root" && user != "0")
        let start = try #require(value("ExecStart")).split(separator: " ").map(String.init)
        #expect(start.count > 2 && start[0].hasSuffix("/vault") && start[1] == "serve")
        #expect(try await Self.unknownFlags(in: start) == [])
        #expect(value("ExecReload")?.contains("kill -HUP $MAINPID") == true)
        #expect(value("Restart") == "on-failure")
        #expect(value("NoNewPrivileges") == "yes")
        #expect(value("ProtectSystem") == "strict")
        #expect(value("PrivateTmp") == "yes")
        #expect(value("EnvironmentFile") != nil)
        // The only folder it may write is its data folder.
        let dataDirectory = try #require(start.firstIndex(of: "--data-dir").map { start[$0 + 1] })
        #expect(value("ReadWritePaths")?.split(separator: " ").contains { String($0) == dataDirectory } == true)
        #expect(sections["[Install]"]?.contains { $0.key == "WantedBy" } == true)
    }
}
