import Foundation
import TestProcesses
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vault encrypt` / `vault decrypt` on files: streamed in flat memory, base64 or raw blobs that
/// the in-memory path reads and writes alike, nothing released or left behind on failure, and a
/// progress bar only on a terminal.
extension VaultCLITests {
    static let mebibyte = 1 << 20

    /// A fresh folder for one test's files; the caller removes it and `home`.
    func streamFolder() throws -> String {
        let folder = home + "-stream"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    func removeStreamFolder(_ folder: String) {
        try? FileManager.default.removeItem(atPath: folder)
        try? FileManager.default.removeItem(atPath: home)
    }

    @discardableResult
    static func writeRandom(_ count: Int, to path: String) throws -> Data {
        let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        defer { try? random.close() }
        let bytes = random.readData(ofLength: count)
        try #require(bytes.count == count)
        try bytes.write(to: URL(fileURLWithPath: path))
        return bytes
    }

    static func listing(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    }

    @Test func filesRoundTripInBothLayoutsAsTextOrRawBlobs() async throws {
        let folder = try streamFolder()
        defer { removeStreamFolder(folder) }
        let plain = folder + "/plain"
        let plaintext = try Self.writeRandom(Self.mebibyte + 1, to: plain)
        for layout in ["a", "b"] {
            for binary in [false, true] {
                let name = "layout \(layout), binary \(binary)"
                let blob = folder + "/blob"
                let encrypted = try await vault(
                    ["encrypt", "--context", "organization_id=org_1", "--layout", layout, "--in", plain, "--out", blob]
                        + (binary ? ["--binary"] : [])
                )
                #expect(encrypted.status == 0, "\(name): \(encrypted.stderr)")
                let written = try Data(contentsOf: URL(fileURLWithPath: blob))
                let text = String(decoding: written, as: UTF8.self)
                // Text: one base64 line. Raw: the same blob's bytes, a quarter shorter.
                #expect((Data(base64Encoded: text.trimmingCharacters(in: .newlines)) != nil) == !binary, "\(name)")
                let blobBytes = binary ? written : Data(base64Encoded: text.trimmingCharacters(in: .newlines)) ?? Data()
                #expect(blobBytes.count > plaintext.count + 28, "\(name)")
                let decrypted = try await vault(["decrypt", "--in", blob, "--out", folder + "/out"])
                #expect(decrypted.status == 0, "\(name): \(decrypted.stderr)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/out")) == plaintext, "\(name)")
                #expect(try Self.listing(folder) == ["blob", "out", "plain"], "\(name)")
            }
        }
    }

    @Test func streamedAndInMemoryBlobsReadEachOther() async throws {
        let folder = try streamFolder()
        defer { removeStreamFolder(folder) }
        for layout in ["a", "b"] {
            // Streamed (no --json) → the in-memory path (--json).
            let streamed = try await vault(
                ["encrypt", "--context", "organization_id=org_1", "--layout", layout, "--aad", "u1"],
                input: "4242"
            )
            #expect(streamed.status == 0, "\(streamed.stderr)")
            let read = try await vault(["decrypt", "--json", "--aad", "u1"], input: streamed.stdout)
            #expect(read.stdout.contains(#""plaintext":"4242""#), "layout \(layout): \(read.stderr)")
            // In-memory → streamed, to standard output.
            let json = try await vault(
                ["encrypt", "--json", "--context", "organization_id=org_1", "--layout", layout],
                input: "5555"
            )
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: String]
            let blob = try #require(object?["blob"])
            let decrypted = try await vault(["decrypt"], input: blob)
            #expect(decrypted.status == 0 && decrypted.stdout == "5555", "layout \(layout): \(decrypted.stderr)")
        }
    }

    @Test func alteredFilesReleaseNothingAndLeaveNothing() async throws {
        let folder = try streamFolder()
        defer { removeStreamFolder(folder) }
        try Self.writeRandom(2 * Self.mebibyte + 7, to: folder + "/plain")
        for layout in ["a", "b"] {
            let blob = folder + "/blob"
            let encrypted = try await vault(
                [
                    "encrypt", "--context", "o=1", "--layout", layout, "--binary", "--in", folder + "/plain", "--out",
                    blob,
                ])
            try #require(encrypted.status == 0, "\(encrypted.stderr)")
            let original = try Data(contentsOf: URL(fileURLWithPath: blob))
            var flipped = original
            flipped[flipped.count - 3] ^= 1
            for (name, altered) in [
                ("flipped", flipped), ("truncated", original.dropLast()), ("extended", original + [0]),
            ] {
                try altered.write(to: URL(fileURLWithPath: blob))
                let toFile = try await vault(["decrypt", "--in", blob, "--out", folder + "/out"])
                #expect(toFile.status == 4, "\(layout) \(name): \(toFile.stderr)")
                #expect(try Self.listing(folder) == ["blob", "plain"], "\(layout) \(name): a file was left")
                let toStandardOutput = try await vault(["decrypt", "--in", blob])
                #expect(toStandardOutput.status == 4 && toStandardOutput.stdout.isEmpty, "\(layout) \(name)")
            }
        }
    }

    @Test func layoutAStreamsToAPipeThroughAHeldCopyAndBDirectly() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        // Layout A's tag slot is rewritten last, so to a pipe the blob is held, then written.
        for layout in ["a", "b"] {
            let encrypted = try await vault(["encrypt", "--context", "o=1", "--layout", layout], input: "to a pipe")
            #expect(encrypted.status == 0, "\(encrypted.stderr)")
            #expect(encrypted.stdout.hasSuffix("\n") && Data(base64Encoded: String(encrypted.stdout.dropLast())) != nil)
            #expect(try await vault(["decrypt", "--layout", layout], input: encrypted.stdout).stdout == "to a pipe")
        }
    }

    @Test func aFileOverTheGCMLimitIsRefusedUpFront() async throws {
        let folder = try streamFolder()
        defer { removeStreamFolder(folder) }
        let huge = folder + "/huge"
        let descriptor = open(huge, O_WRONLY | O_CREAT, 0o600)
        try #require(descriptor >= 0)
        // Sparse: 2^36 - 31 bytes long, one past AES-GCM's limit, with no blocks written.
        try #require(ftruncate(descriptor, off_t((1 << 36) - 31)) == 0)
        close(descriptor)
        let refused = try await vault(["encrypt", "--context", "o=1", "--in", huge, "--out", folder + "/blob"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("2^36 - 32 bytes"), "\(refused.stderr)")
        #expect(try Self.listing(folder) == ["huge"])
    }

    /// Pipes both ways, past the 1 MiB held in memory: layout A's blob and the plaintext are held
    /// in unlinked files in `$TMPDIR`, which stays empty.
    @Test func largeDataThroughPipesIsHeldInUnlinkedFiles() async throws {
        let folder = try streamFolder()
        defer { removeStreamFolder(folder) }
        let text = String(repeating: "pipe it through ", count: 200_000)
        let environment = ["TMPDIR": folder]
        let encrypted = try await vault(["encrypt", "--context", "o=1"], input: text, environment: environment)
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        #expect(encrypted.stdout.count > text.utf8.count * 4 / 3)
        let decrypted = try await vault(["decrypt"], input: encrypted.stdout, environment: environment)
        #expect(decrypted.status == 0 && decrypted.stdout == text, "\(decrypted.stderr)")
        var altered = Array(encrypted.stdout.utf8)
        altered[altered.count - 10] =
            altered[altered.count - 10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let refused = try await vault(
            ["decrypt"],
            input: String(decoding: altered, as: UTF8.self),
            environment: environment
        )
        #expect(refused.status == 4 && refused.stdout.isEmpty, "\(refused.stderr)")
        #expect(try Self.listing(folder).isEmpty)
    }

    /// Peak RSS from `wait4` of the child itself: streaming a 96 MiB file must cost no more than
    /// a few MiB over a 1 KiB one (the old path held the input and the output: 192 MiB or more).
    @Test func memoryStaysFlatWhateverTheFileSize() async throws {
        let folder = try streamFolder()
        defer { removeStreamFolder(folder) }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WORKOS_") }
        environment["VAULT_HOME"] = home
        var peaks: [String: Int] = [:]
        let largeCount = 96 * Self.mebibyte
        for (name, size) in [("small", 1024), ("large", largeCount)] {
            let plain = folder + "/\(name)"
            let plaintext = try Self.writeRandom(size, to: plain)
            let encrypt = try await Self.measure(
                ["encrypt", "--context", "o=1", "--in", plain, "--out", plain + ".blob"],
                environment: environment,
                folder: folder
            )
            let decrypt = try await Self.measure(
                ["decrypt", "--in", plain + ".blob", "--out", plain + ".out"],
                environment: environment,
                folder: folder
            )
            #expect(encrypt.status == 0 && decrypt.status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: plain + ".out")) == plaintext)
            peaks["encrypt-\(name)"] = encrypt.maxRSS
            peaks["decrypt-\(name)"] = decrypt.maxRSS
        }
        for operation in ["encrypt", "decrypt"] {
            let large = try #require(peaks["\(operation)-large"])
            let small = try #require(peaks["\(operation)-small"])
            #expect(
                large - small < 16 * Self.mebibyte,
                "\(operation): \(large >> 20) MiB on 96 MiB, \(small >> 20) MiB on 1 KiB"
            )
            #expect(large < largeCount, "\(operation): \(large >> 20) MiB")
        }
    }

    @Test func theProgressBarShowsOnlyOnATerminalAndNotWhenQuiet() async throws {
        let folder = try streamFolder()
        defer { removeStreamFolder(folder) }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WORKOS_") }
        environment["VAULT_HOME"] = home
        let plain = folder + "/plain"
        try Self.writeRandom(8 * Self.mebibyte, to: plain)
        let encrypt = ["encrypt", "--context", "o=1", "--in", plain, "--out", plain + ".blob"]
        let onTerminal = try await Self.measure(encrypt, environment: environment, folder: folder, terminal: true)
        #expect(onTerminal.status == 0)
        #expect(onTerminal.stderr.contains("100% [") && onTerminal.stderr.contains("MiB/s"), "\(onTerminal.stderr)")
        let quiet = try await Self.measure(
            encrypt + ["--quiet"],
            environment: environment,
            folder: folder,
            terminal: true
        )
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
        let decrypt = try await Self.measure(
            ["decrypt", "--in", plain + ".blob", "--out", plain + ".out"],
            environment: environment,
            folder: folder,
            terminal: true
        )
        #expect(decrypt.status == 0 && decrypt.stderr.contains("100% ["), "\(decrypt.stderr)")
        // Not a terminal: nothing on standard error.
        let piped = try await vault(encrypt)
        #expect(piped.status == 0 && piped.stderr.isEmpty, "\(piped.stderr)")
    }

    struct Measured {
        var status: Int32
        var maxRSS: Int
        var stderr: String
    }

    /// Runs `vault` and reads its own peak RSS from `wait4` (the shared helper's `Process` cannot
    /// report it). A small `python3` starts and reaps it: a child spawned straight from this test
    /// process would report this process's peak too (`posix_spawn` shares its memory until the
    /// exec, and Linux counts that memory's high-water mark as the child's). Standard error goes
    /// to a new pseudo-terminal when `terminal`, else to `/dev/null`.
    static func measure(
        _ arguments: [String],
        environment: [String: String],
        folder: String,
        terminal: Bool = false
    ) async throws -> Measured {
        var master: Int32 = -1
        var slave: Int32 = -1
        if terminal { (master, slave) = try PseudoTerminal.make() }
        defer { if master >= 0 { close(master) } }
        let resultPath = folder + "/wait4-result"
        let reaper = """
            import os, sys
            pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
            _, status, usage = os.wait4(pid, 0)
            open(sys.argv[1], "w").write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
            """
        let process = try SpawnedProcess(
            program: "/usr/bin/env",
            arguments: ["python3", "-c", reaper, resultPath, binary.path] + arguments,
            environment: environment,
            standardOutput: .null,
            standardError: terminal ? .descriptor(slave) : .null
        )
        if slave >= 0 { close(slave) }
        let ended = try await process.waitForExit(timeout: .seconds(300))
        if ended == nil { process.forceStop() }
        let status: Int32 = ended.map { $0.reason == .exit ? $0.status : -1 } ?? -1
        var output: [UInt8] = []
        if terminal {
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
            while true {
                let count = read(master, &buffer, buffer.count)
                guard count > 0 else { break }
                output += buffer[..<count]
            }
        }
        try #require(status == 0, "python3 failed")
        let result = try String(contentsOfFile: resultPath, encoding: .utf8).split(separator: " ").compactMap {
            Int($0)
        }
        try FileManager.default.removeItem(atPath: resultPath)
        try #require(result.count == 2)
        return Measured(
            status: Int32(result[0]),
            maxRSS: result[1] * 1024,
            stderr: String(decoding: output, as: UTF8.self)
        )
    }
}
