import EnvelopeCrypto
import Foundation
import Testing

@testable import vault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ``OutputFile``: what `--out` does with each kind of path, and the private temporary file
/// (EnvelopeCrypto's `PrivateFile`, which `--out` writes regular files through).
@Suite struct OutputFileTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vault-out-\(UUID().uuidString)").path

    func makeFolder() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    @Test func eachKindOfPathIsClassified() throws {
        try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/file"
        let fifo = folder + "/fifo"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        try #require(mkfifo(fifo, 0o600) == 0)
        try FileManager.default.createSymbolicLink(atPath: folder + "/to-fifo", withDestinationPath: fifo)
        try FileManager.default.createSymbolicLink(atPath: folder + "/to-file", withDestinationPath: file)
        try FileManager.default.createSymbolicLink(atPath: folder + "/to-folder", withDestinationPath: folder)

        #expect(try OutputFile.resolve(folder + "/new") == .replaced(folder + "/new"))
        #expect(try OutputFile.resolve(file) == .replaced(file))
        #expect(try OutputFile.resolve(fifo) == .writtenThrough(fifo))
        #expect(try OutputFile.resolve(folder + "/to-fifo") == .writtenThrough(folder + "/to-fifo"))
        #expect(try OutputFile.resolve("/dev/stdout") == .descriptor(1))
        #expect(try OutputFile.resolve("/dev/stderr") == .descriptor(2))
        #expect(try OutputFile.resolve("/dev/fd/7") == .descriptor(7))
        #expect(try OutputFile.resolve("/proc/self/fd/1") == .descriptor(1))
        for refused in [folder, folder + "/to-file", folder + "/to-folder"] {
            #expect(throws: OutputFileError.self, "\(refused)") { try OutputFile.resolve(refused) }
        }
    }

    /// The file the bytes are written to is 0600 from its first open: checked from inside the
    /// write, on the open descriptor and on the only other entry in the folder.
    @Test func theTemporaryFileIsPrivateWhileItIsWritten() throws {
        try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/plain.txt"
        var modesSeen: [mode_t] = []
        try Array("secret".utf8).withUnsafeBytes { secret in
            try PrivateFile.replace(path) { (descriptor) throws(EnvelopeCryptoError) in
                var status = stat()
                if fstat(descriptor, &status) == 0 { modesSeen.append(status.st_mode & 0o7777) }
                for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                    if lstat(folder + "/" + name, &status) == 0 { modesSeen.append(status.st_mode & 0o7777) }
                }
                try writeAll(secret, to: descriptor)
            }
        }
        #expect(modesSeen == [0o600, 0o600])
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "secret")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["plain.txt"])
    }

    @Test func aFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws {
        try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/plain.txt"
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: EnvelopeCryptoError.self) {
            try PrivateFile.replace(path) { (_) throws(EnvelopeCryptoError) in throw EnvelopeCryptoError.malformedBlob }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["plain.txt"])
    }
}
