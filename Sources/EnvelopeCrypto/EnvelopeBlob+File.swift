#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension EnvelopeBlob {
    /// Encrypts the file at `source` into a blob file at `destination`, streaming 1 MiB at a time:
    /// memory stays flat whatever the file size. The blob is byte for byte what
    /// `seal(_:with:encryptedKeys:associatedData:layout:)` would return for the
    /// file's bytes (binary, not base64).
    ///
    /// `destination` is written as a new 0600 file in its folder, synced and renamed into place
    /// when complete; on failure nothing is left. A FIFO, device or socket there is written
    /// through instead, which layout B allows (its tag comes last); layout A writes its tag slot
    /// after the ciphertext, so it needs a file.
    /// - Parameters:
    ///   - source: the plaintext file.
    ///   - destination: where the blob file goes.
    ///   - key: the data key.
    ///   - encryptedKeys: the data key as the key service wrapped it, framed into the blob.
    ///   - associatedData: authenticated, not encrypted; needed again to decrypt.
    ///   - layout: the blob layout to write.
    ///   - progress: called after each chunk with the bytes of `source` read so far.
    /// - Throws: ``EnvelopeCryptoError`` (code `plaintextTooLong` before any work for a file over
    ///   2^36 - 32 bytes, `outputNotSeekable` for layout A to a pipe, `fileAccess`,
    ///   `invalidEncryptedKeys`, `unsupportedLayout`).
    public static func seal(
        fileAt source: String,
        to destination: String,
        with key: DataKey,
        encryptedKeys: [UInt8],
        associatedData: [UInt8]? = nil,
        layout: BlobLayout = .a,
        progress: ((FileProgress) -> Void)? = nil
    ) throws {
        let input = try FileDestination.openForReading(source)
        defer { _ = close(input) }
        try FileDestination.write(to: destination, holdUntilDone: false) { (sink) throws(EnvelopeCryptoError) in
            try (associatedData ?? []).withBytes { (associatedData) throws(EnvelopeCryptoError) in
                try BlobStream.seal(
                    from: DescriptorSource(descriptor: input),
                    to: sink,
                    with: key,
                    encryptedKeys: encryptedKeys,
                    associatedData: associatedData,
                    layout: layout,
                    progress: progress
                )
            }
        }
    }

    /// Decrypts the blob file at `source` into `destination`, streaming; see ``EnvelopeBlobFile``
    /// to read the wrapped keys first when the data key is not known yet.
    /// - Throws: as ``EnvelopeBlobFile/init(contentsOf:layout:)`` and
    ///   ``EnvelopeBlobFile/open(to:with:associatedData:progress:)``.
    public static func open(
        fileAt source: String,
        to destination: String,
        with key: DataKey,
        associatedData: [UInt8]? = nil,
        layout: BlobLayout? = nil,
        progress: ((FileProgress) -> Void)? = nil
    ) throws {
        try EnvelopeBlobFile(contentsOf: source, layout: layout)
            .open(to: destination, with: key, associatedData: associatedData, progress: progress)
    }
}

/// A blob file opened for streamed decryption: the header (layout, IV, wrapped keys) is read
/// when it is opened, so ``encryptedKeys`` can go to the key service before any ciphertext is
/// read.
///
/// ```swift
/// let file = try EnvelopeBlobFile(contentsOf: "backup.tar.blob")
/// let key = try await keyService.decrypt(file.encryptedKeys)   // POST /vault/v1/keys/decrypt
/// try file.open(to: "backup.tar", with: key)
/// ```
public final class EnvelopeBlobFile {
    private let descriptor: Int32
    let reader: BlobStreamReader

    /// Opens `path` and reads its blob header.
    /// - Parameters:
    ///   - path: the blob file.
    ///   - layout: force a layout; `nil` detects it as ``EnvelopeBlob/init(parsing:layout:)`` does.
    /// - Throws: ``EnvelopeCryptoError`` (code `malformedBlob` or `fileAccess`).
    public init(contentsOf path: String, layout: BlobLayout? = nil) throws {
        descriptor = try FileDestination.openForReading(path)
        do {
            reader = try BlobStreamReader(source: DescriptorSource(descriptor: descriptor), layout: layout)
        } catch {
            _ = close(descriptor)
            throw error
        }
    }

    deinit { _ = close(descriptor) }

    /// The blob's layout, as forced or detected.
    public var layout: BlobLayout { reader.layout }

    /// The wrapped data key, exactly as the key service issued it.
    public var encryptedKeys: [UInt8] { reader.encryptedKeys }

    /// Decrypts the blob into `destination`, which receives plaintext only after the tag verifies.
    ///
    /// A regular file or new path: the plaintext goes to a new 0600 file in its folder, which is
    /// synced and renamed into place only after the tag verifies; on any failure it is removed
    /// and `destination` is left as it was. A FIFO, device or socket: the plaintext is held in
    /// memory up to 1 MiB, past that in an unlinked 0600 file in `$TMPDIR`, and written there
    /// only after the tag verifies. Call once.
    /// - Parameters:
    ///   - destination: where the plaintext goes.
    ///   - key: the data key, unwrapped from ``encryptedKeys``.
    ///   - associatedData: the associated data given when encrypting.
    ///   - progress: called after each chunk with the bytes of the blob file read so far.
    /// - Throws: ``EnvelopeCryptoError`` (code `authenticationFailed` for a wrong key, wrong
    ///   associated data or any changed, missing or added byte; `fileAccess`).
    public func open(
        to destination: String,
        with key: DataKey,
        associatedData: [UInt8]? = nil,
        progress: ((FileProgress) -> Void)? = nil
    ) throws {
        try FileDestination.write(to: destination, holdUntilDone: true) { (sink) throws(EnvelopeCryptoError) in
            try (associatedData ?? []).withBytes { (associatedData) throws(EnvelopeCryptoError) in
                try reader.open(with: key, associatedData: associatedData, to: sink, progress: progress)
            }
        }
    }
}

/// One reader of one open file: not for use from several threads.
@available(*, unavailable)
extension EnvelopeBlobFile: Sendable {}

/// Where the file API's output goes, decided from what `destination` names.
package enum FileDestination {
    /// Opens a file to read.
    package static func openForReading(_ path: String) throws(EnvelopeCryptoError) -> Int32 {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .fileAccess("open the input", errno: errno) }
        return descriptor
    }

    /// Checks, before any key is requested, that the file at `path` exists and is not past
    /// AES-GCM's limit.
    package static func checkSealable(fileAt path: String) throws(EnvelopeCryptoError) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw .fileAccess("open the input", errno: errno) }
        if status.st_mode & S_IFMT == S_IFREG, Int(status.st_size) > BlobStream.maxPlaintextCount {
            throw .plaintextTooLong
        }
    }

    /// Runs `body` with a sink for `path`: a regular file or a new path gets a private temporary
    /// file renamed into place when `body` returns; a FIFO, device or socket (or a symbolic link to
    /// one, such as `/dev/stdout`) is written through, after `body` returns when `holdUntilDone`.
    /// Any other symbolic link is replaced, never followed, so a link planted in a shared folder
    /// cannot aim the output at another file.
    package static func write(
        to path: String,
        holdUntilDone: Bool,
        _ body: (any StreamSink) throws(EnvelopeCryptoError) -> Void
    ) throws(EnvelopeCryptoError) {
        var status = stat()
        let exists = lstat(path, &status) == 0
        guard exists || errno == ENOENT else { throw .fileAccess("inspect the output", errno: errno) }
        var type = status.st_mode & S_IFMT
        if exists, type == S_IFLNK, stat(path, &status) == 0 { type = status.st_mode & S_IFMT }
        if exists, type == S_IFDIR { throw .fileAccess("write the output", errno: EISDIR) }
        guard exists, type == S_IFIFO || type == S_IFCHR || type == S_IFSOCK else {
            try PrivateFile.replace(path) { (descriptor) throws(EnvelopeCryptoError) in
                try body(DescriptorSink(descriptor: descriptor))
            }
            return
        }
        let descriptor = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .fileAccess("open the output", errno: errno) }
        defer { _ = close(descriptor) }
        // The path became a regular file after the check: never write one in place.
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT != S_IFREG else {
            throw .fileAccess("write the output", errno: EEXIST)
        }
        try writeThrough(descriptor, holdUntilDone: holdUntilDone, body)
    }

    /// Runs `body` with a sink for an open descriptor: direct, or held in a ``SpillSink`` and
    /// released when `body` returns.
    package static func writeThrough(
        _ descriptor: Int32,
        holdUntilDone: Bool,
        _ body: (any StreamSink) throws(EnvelopeCryptoError) -> Void
    ) throws(EnvelopeCryptoError) {
        guard holdUntilDone else {
            try body(DescriptorSink(descriptor: descriptor))
            return
        }
        let held = SpillSink()
        try body(held)
        try held.release(to: descriptor)
    }
}
