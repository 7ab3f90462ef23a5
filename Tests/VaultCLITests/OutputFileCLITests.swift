import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--out` as a root-run script uses it: devices and FIFOs are written through and never replaced,
/// files are private from their first byte, symbolic links to files are refused.
extension VaultCLITests {
    /// A fresh folder for one test's files, removed by the caller.
    func scratchFolder() throws -> String {
        let folder = home + "-out"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// A layout-A blob of `plaintext` made with the embedded store.
    func encryptedBlob(_ plaintext: String) async throws -> String {
        let encrypted = try await vault(["encrypt", "--context", "organization_id=org_1"], input: plaintext)
        try #require(encrypted.status == 0)
        return encrypted.stdout
    }

    static func fileType(_ path: String) -> mode_t? {
        var status = stat()
        guard lstat(path, &status) == 0 else { return nil }
        return status.st_mode & S_IFMT
    }

    static let isRoot = getuid() == 0

    #if os(Linux)
    @Test(.enabled(if: isRoot, "mknod needs root"))
    func aCharacterDeviceIsWrittenThroughNotReplaced() async throws {
        let folder = try scratchFolder()
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: home)
        }
        let device = folder + "/null"
        // A character device with /dev/null's numbers (1, 3), made here: the real one is never touched.
        try #require(mknod(device, S_IFCHR | 0o666, 0x0103) == 0)
        try #require(chmod(device, 0o666) == 0)
        let blob = try await encryptedBlob("written to a device")
        let decrypted = try await vault(["decrypt", "--out", device], input: blob)
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        var status = stat()
        try #require(lstat(device, &status) == 0)
        #expect(status.st_mode & S_IFMT == S_IFCHR, "the device node was replaced")
        #expect(status.st_rdev == 0x0103)
        #expect(status.st_mode & 0o777 == 0o666, "the device's mode was changed")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["null"], "a temporary file was left")
    }
    #endif

    @Test func aFIFOIsWrittenThroughToItsReader() async throws {
        let folder = try scratchFolder()
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: home)
        }
        let fifo = folder + "/pipe"
        try #require(mkfifo(fifo, 0o600) == 0)
        // The test is the reader, open before `vault` runs (read-write, so that the open does not
        // wait for a writer and the pipe keeps what `vault` wrote after it exits).
        let reader = open(fifo, O_RDWR | O_NONBLOCK)
        try #require(reader >= 0)
        defer { close(reader) }
        let blob = try await encryptedBlob("through the pipe")
        let decrypted = try await vault(["decrypt", "--out", fifo], input: blob)
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(reader, &buffer, buffer.count)
        #expect(count >= 0 && String(decoding: buffer[..<max(count, 0)], as: UTF8.self) == "through the pipe")
        #expect(Self.fileType(fifo) == S_IFIFO, "the FIFO was replaced")
    }

    #if os(Linux)
    @Test func standardOutputByNameAndThroughALinkIsWrittenThrough() async throws {
        let folder = try scratchFolder()
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: home)
        }
        let blob = try await encryptedBlob("to standard output")
        // /proc/self/fd/1 rather than /dev/stdout: run on a build that replaces files, this test
        // must fail without touching /dev.
        let byName = try await vault(["decrypt", "--out", "/proc/self/fd/1"], input: blob, outputThroughPipe: true)
        #expect(byName.status == 0, "\(byName.stderr)")
        #expect(byName.stdout == "to standard output")
        // A link to a pipe (here, `vault`'s own standard output) is followed and written through.
        let link = folder + "/stdout"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/proc/self/fd/1")
        let throughLink = try await vault(["decrypt", "--out", link], input: blob, outputThroughPipe: true)
        #expect(throughLink.status == 0, "\(throughLink.stderr)")
        #expect(throughLink.stdout == "to standard output")
        #expect(Self.fileType(link) == S_IFLNK)
    }
    #endif

    @Test func aSymbolicLinkToARegularFileIsRefused() async throws {
        let folder = try scratchFolder()
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: home)
        }
        let target = folder + "/target"
        let link = folder + "/link"
        try Data("untouched".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let dangling = folder + "/dangling"
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: folder + "/nothing")
        let blob = try await encryptedBlob("secret")
        for path in [link, dangling, folder] {
            let refused = try await vault(["decrypt", "--out", path], input: blob)
            #expect(refused.status == 1, "\(path)")
            #expect(!refused.stderr.contains(path), "the error names the rule, not the path")
        }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "untouched")
        #expect(Self.fileType(link) == S_IFLNK)
        #expect(Self.fileType(dangling) == S_IFLNK)
        #expect(Self.fileType(folder + "/nothing") == nil, "a dangling link's target was created")
    }

    @Test func anExistingFileIsReplacedAtomicallyByAPrivateOne() async throws {
        let folder = try scratchFolder()
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: home)
        }
        let path = folder + "/plain.txt"
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        try #require(chmod(path, 0o644) == 0)
        var before = stat()
        try #require(lstat(path, &before) == 0)
        let decrypted = try await vault(["decrypt", "--out", path], input: try await encryptedBlob("new secret"))
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        var after = stat()
        try #require(lstat(path, &after) == 0)
        #expect(after.st_mode & S_IFMT == S_IFREG)
        #expect(after.st_mode & 0o777 == 0o600)
        #expect(after.st_ino != before.st_ino, "written in place instead of renamed over")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new secret")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["plain.txt"])
    }

    @Test func tamperedWrappedKeysOrAForcedWrongLayoutExitWithDecryptionFailure() async throws {
        defer { try? FileManager.default.removeItem(atPath: home) }
        // A layout-A blob (IV 12, tag 16, LEB128 length, keys) whose first byte, read as layout B's
        // length, fits: forced into B it parses, and its "wrapped keys" are bytes of the IV.
        var blob: [UInt8] = []
        for _ in 0..<40 {
            blob = try await Self.decoded(encryptedBlob("secret"))
            if (1..<0x80).contains(blob[0]), blob.count - 1 - Int(blob[0]) >= 28 { break }
        }
        try #require((1..<0x80).contains(blob[0]))
        let (keysCount, keysStart) =
            blob[28] < 0x80 ? (Int(blob[28]), 29) : (Int(blob[28] & 0x7F) | Int(blob[29]) << 7, 30)
        let keys = Array(blob[keysStart..<(keysStart + keysCount)])

        var tampered = blob
        tampered[keysStart + keysCount - 1] ^= 0x01
        let altered = try await vault(["decrypt"], input: Data(tampered).base64EncodedString())
        #expect(altered.status == 4, "\(altered.stderr)")

        let forced = try await vault(["decrypt", "--layout", "b"], input: Data(blob).base64EncodedString())
        #expect(forced.status == 4, "\(forced.stderr)")
        // Forced into A', the blob either does not fit (malformed) or carries foreign keys: 4 either way.
        let forcedLegacy = try await vault(
            ["decrypt", "--layout", "legacy-a"],
            input: Data(blob).base64EncodedString()
        )
        #expect(forcedLegacy.status == 4, "\(forcedLegacy.stderr)")

        var alteredKeys = keys
        alteredKeys[keys.count - 1] ^= 0x01
        let unwrapped = try await vault(["keys", "decrypt"], input: Data(alteredKeys).base64EncodedString())
        #expect(unwrapped.status == 4, "\(unwrapped.stderr)")
        #expect(try await vault(["keys", "decrypt"], input: Data(keys).base64EncodedString()).status == 0)
    }

    static func decoded(_ base64: String) async throws -> [UInt8] {
        try #require(Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines))).map { $0 }
    }
}
