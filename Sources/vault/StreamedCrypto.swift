import ArgumentParser
import EnvelopeCrypto
import Foundation
import VaultAPI
import WorkOSVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vault encrypt` and `vault decrypt` without `--json`: the input is streamed a chunk at a time,
/// so memory stays flat for files of any size.
///
/// The blob is base64 text by default (what the official SDKs take), raw bytes with `--binary`;
/// decryption reads either, telling them apart by their first bytes. Plaintext never reaches the
/// output before the blob's tag verifies: `--out FILE` gets a 0600 temporary file, synced and
/// renamed into place afterwards; a pipe or terminal gets it from memory or an unlinked 0600 file
/// in `$TMPDIR`.
enum StreamedCrypto {
    static func encrypt(
        vault: Vault,
        files: InputOutputOptions,
        context: KeyContext,
        associatedData: [UInt8],
        layout: BlobLayout,
        binary: Bool,
        quiet: Bool
    ) async throws {
        let input = try openInput(files.inputPath)
        defer { if input != STDIN_FILENO { _ = close(input) } }
        let source = DescriptorSource(descriptor: input)
        if let total = source.totalCount, total > BlobStream.maxPlaintextCount {
            throw failure(reporting: VaultError(EnvelopeCryptoError.plaintextTooLong))
        }
        let dataKey = try await reportingErrors { try await vault.createDataKey(context: context) }
        let bar = ProgressBar.make(total: source.totalCount, quiet: quiet)
        try reporting {
            try writing(to: files.outputPath, holdUntilDone: false) { (sink) throws(EnvelopeCryptoError) in
                try associatedData.withBytes { (associatedData) throws(EnvelopeCryptoError) in
                    try BlobStream.seal(
                        from: source,
                        to: binary ? sink : Base64Sink(sink, lineEnding: true),
                        with: dataKey.key,
                        encryptedKeys: dataKey.encryptedKeys,
                        associatedData: associatedData,
                        layout: layout,
                        progress: bar?.update
                    )
                }
            }
        }
        bar?.finish(source.consumedCount)
    }

    static func decrypt(
        vault: Vault,
        files: InputOutputOptions,
        associatedData: [UInt8],
        layout: BlobLayout?,
        quiet: Bool
    ) async throws {
        let input = try openInput(files.inputPath)
        defer { if input != STDIN_FILENO { _ = close(input) } }
        let source = try blobSource(reading: input)
        let reader = try reporting(decrypting: true) { try BlobStreamReader(source: source, layout: layout) }
        let keys = Base64.encode(reader.encryptedKeys)
        let dataKey = try await reportingErrors(decrypting: true) {
            try await vault.decryptDataKey(encryptedKeys: keys)
        }
        var completed = 0
        let bar = ProgressBar.make(total: fileSize(input), quiet: quiet)
        try reporting(decrypting: true) {
            try writing(to: files.outputPath, holdUntilDone: true) { (sink) throws(EnvelopeCryptoError) in
                try associatedData.withBytes { (associatedData) throws(EnvelopeCryptoError) in
                    try reader.open(with: dataKey.key, associatedData: associatedData, to: sink) { progress in
                        completed = progress.completedBytes
                        bar?.update(progress)
                    }
                }
            }
        }
        bar?.finish(completed)
    }

    /// The input as a blob source: base64 text (surrounding whitespace allowed), raw bytes, or the
    /// JSON `vault encrypt --json` and `vault rekey --json` print (`{"blob": ...}`, read whole: it
    /// came from memory). Text is recognised by its first 16 characters, all in the base64
    /// alphabet; a raw blob starts with a random IV or a length and wrapped keys that almost never
    /// look like that, and a wrong guess fails authentication, never yields plaintext.
    static func blobSource(reading descriptor: Int32) throws -> any StreamSource {
        var peek = [UInt8](repeating: 0, count: 4096)
        let got = try reporting(decrypting: true) {
            try peek.withMutableBytes { (buffer) throws(EnvelopeCryptoError) in
                try DescriptorSource(descriptor: descriptor).read(into: buffer)
            }
        }
        peek.removeSubrange(got...)
        let raw = DescriptorSource(descriptor: descriptor, prefix: peek)
        let start = peek.drop(while: { $0 == 0x20 || (0x09...0x0D).contains($0) })
        if start.first == UInt8(ascii: "{") {
            return try BytesSource(jsonBlob: try reporting(decrypting: true) { try readWhole(raw) })
        }
        return start.prefix(16).allSatisfy(isBase64Character) ? Base64Source(raw) : raw
    }

    /// Everything `source` has left (a JSON input, which `--json` made in memory).
    private static func readWhole(_ source: some StreamSource) throws(EnvelopeCryptoError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = try chunk.withMutableBytes { (buffer) throws(EnvelopeCryptoError) in try source.read(into: buffer)
            }
            guard got > 0 else { return bytes }
            bytes += chunk[..<got]
        }
    }

    private static func isBase64Character(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="):
            true
        default: false
        }
    }

    /// Sends what `body` writes to `--out` as ``OutputFile`` decides, or to standard output. A
    /// regular or new file gets a private temporary file renamed into place when `body` returns;
    /// a pipe, terminal or device is written through, held until `body` returns when
    /// `holdUntilDone` or when it cannot be rewritten (layout A's tag slot).
    private static func writing(
        to path: String?,
        holdUntilDone: Bool,
        _ body: (any StreamSink) throws(EnvelopeCryptoError) -> Void
    ) throws {
        var descriptor = STDOUT_FILENO
        var opened = false
        do {
            switch try path.map(OutputFile.resolve) {
            case nil: break
            case .descriptor(let named): descriptor = named
            case .replaced(let path):
                try PrivateFile.replace(path) { (descriptor) throws(EnvelopeCryptoError) in
                    try body(DescriptorSink(descriptor: descriptor))
                }
                return
            case .writtenThrough(let path):
                descriptor = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
                guard descriptor >= 0 else { throw OutputFileError("cannot open --out", errno: errno) }
                opened = true
                var status = stat()
                // The path changed between the check and the open: never write a regular file this way.
                guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT != S_IFREG else {
                    _ = close(descriptor)
                    throw OutputFileError("--out changed while writing")
                }
            }
        } catch let error as OutputFileError {
            FileHandle.standardError.write(Data("vault: \(error)\n".utf8))
            throw ExitCode.failure
        }
        defer { if opened { _ = close(descriptor) } }
        let hold = holdUntilDone || !DescriptorSink(descriptor: descriptor).canOverwrite
        try FileDestination.writeThrough(descriptor, holdUntilDone: hold, body)
    }

    /// `--in`, or standard input.
    private static func openInput(_ path: String?) throws -> Int32 {
        try path.map(openForReading) ?? STDIN_FILENO
    }

    private static func fileSize(_ descriptor: Int32) -> Int? {
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int(status.st_size)
    }

    /// Runs `body`, turning a crypto or file failure into its message and exit code (4 for a
    /// blob that does not decrypt or parse).
    private static func reporting<Result>(decrypting: Bool = false, _ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as EnvelopeCryptoError {
            throw failure(reporting: VaultError(error), decrypting: decrypting)
        }
    }
}

/// A blob held in memory: the one in the JSON `vault encrypt --json` printed.
final class BytesSource: StreamSource {
    private let bytes: [UInt8]
    private var offset = 0

    /// The blob of `json` (`{"blob": base64, ...}`).
    /// - Throws: exit code 4 (with its message) for JSON without a base64 `blob`.
    init(jsonBlob json: [UInt8]) throws {
        let text = try unwrappingJSON(
            String(decoding: json, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
            field: "blob"
        )
        guard let bytes = try? Base64.decode(text) else {
            FileHandle.standardError.write(Data("vault: the input is not a base64 blob\n".utf8))
            throw ExitCode(4)
        }
        self.bytes = bytes
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(EnvelopeCryptoError) -> Int {
        let count = min(buffer.count, bytes.count - offset)
        guard count > 0, let destination = buffer.baseAddress else { return 0 }
        bytes.withUnsafeBytes { source in
            destination.copyMemory(from: source.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }

    var consumedCount: Int { offset }
    var totalCount: Int? { bytes.count }
}
