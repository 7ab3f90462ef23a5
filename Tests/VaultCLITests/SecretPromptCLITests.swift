import Foundation
import TestProcesses
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vault kv create` on an interactive terminal (issue 15, section 3): it asks on standard error
/// and reads the value without echoing it. The terminal here is a pseudo-terminal whose master
/// side sees whatever the terminal echoes.
@Suite(.timeLimit(.minutes(2)))
struct SecretPromptCLITests {
    let cli = VaultCLITests()

    /// What the master side has to read now (the terminal's echo), without waiting.
    func pending(_ master: Int32) -> String {
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let got = read(master, &buffer, buffer.count)
            if got <= 0 { break }
            bytes += buffer[..<got]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// What happened when `secret` was typed at `vault arguments` on a terminal once it asked
    /// `prompt`: its exit status, standard output, and whether the terminal echoed the secret.
    func typeOnTerminal(
        _ arguments: [String],
        prompt expected: String,
        secret: String
    ) async throws -> (status: Int32?, output: String, echoed: Bool) {
        let (master, slave) = try PseudoTerminal.make()
        defer {
            close(master)
            close(slave)
        }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WORKOS_") }
        environment["VAULT_HOME"] = cli.home
        let outputPath = cli.home + "-prompt.out"
        let errorPath = cli.home + "-prompt.err"
        defer { for path in [outputPath, errorPath] { try? FileManager.default.removeItem(atPath: path) } }
        let process = try SpawnedProcess(
            program: VaultCLITests.binary.path,
            arguments: arguments,
            environment: environment,
            standardInput: .descriptor(slave),
            standardOutput: .file(outputPath),
            standardError: .file(errorPath)
        )
        defer { process.forceStop() }

        // The prompt shows once echo is off: type only then, as a person would.
        let deadline = ContinuousClock.now + .seconds(60)
        func prompt() -> String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
        while !prompt().contains(expected) {
            try #require(process.isRunning && ContinuousClock.now < deadline, "no prompt: \(prompt())")
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = (secret + "\n").withCString { write(master, $0, strlen($0)) }
        let ended = try await process.waitForExit(timeout: .seconds(60))
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (ended?.reason == .exit ? ended?.status : nil, output, pending(master).contains(secret))
    }

    @Test func aTerminalIsAskedForTheValueWithoutEcho() async throws {
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let secret = "s3cret-typed-on-a-tty"
        let typed = try await typeOnTerminal(
            ["kv", "create", "typed", "--context", "a=b"],
            prompt: "value: ",
            secret: secret
        )
        #expect(typed.status == 0, "\(typed.output)")
        #expect(!typed.echoed, "the terminal echoed the value")
        #expect(try await cli.vault(["kv", "get", "--name", "typed", "--raw"]).stdout == secret)
    }

    @Test func aTerminalIsAskedForThePlaintextWithoutEcho() async throws {
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let secret = "4242 4242 4242 4242"
        let typed = try await typeOnTerminal(["encrypt", "--context", "a=b"], prompt: "plaintext: ", secret: secret)
        #expect(typed.status == 0, "\(typed.output)")
        #expect(!typed.echoed, "the terminal echoed the plaintext")
        #expect(try await cli.vault(["decrypt"], input: typed.output).stdout == secret)
    }

    @Test func aPipeIsReadWithoutAPrompt() async throws {
        defer { try? FileManager.default.removeItem(atPath: cli.home) }
        let created = try await cli.vault(["kv", "create", "piped", "--context", "a=b"], input: "from a pipe")
        #expect(created.status == 0)
        #expect(!created.stderr.contains("value: "))
        #expect(try await cli.vault(["kv", "get", "--name", "piped", "--raw"]).stdout == "from a pipe")
    }
}
