internal import CLibcrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How far a file operation has come, in bytes of its input file.
public struct FileProgress: Sendable, Hashable {
    /// Input bytes read and processed so far.
    public var completedBytes: Int
    /// The input's size, when it is a regular file; `nil` for a pipe.
    public var totalBytes: Int?

    public init(completedBytes: Int, totalBytes: Int?) {
        self.completedBytes = completedBytes
        self.totalBytes = totalBytes
    }
}

/// Where streamed bytes come from. `read(into:)` fills the whole buffer unless the input ends,
/// so a short read means the end.
package protocol StreamSource: AnyObject {
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(EnvelopeCryptoError) -> Int
    /// Bytes consumed from the underlying file or pipe so far (for progress).
    var consumedCount: Int { get }
    /// The underlying input's total size when it is a regular file.
    var totalCount: Int? { get }
}

/// Where streamed bytes go.
package protocol StreamSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws(EnvelopeCryptoError)
    /// Rewrites bytes already written, `offset` bytes from the start of this sink's output:
    /// layout A's tag, whose slot precedes the ciphertext.
    func overwrite(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(EnvelopeCryptoError)
    /// Whether ``overwrite(_:at:)`` can work (false for a pipe or a terminal).
    var canOverwrite: Bool { get }
    /// Writes out whatever is buffered.
    func finish() throws(EnvelopeCryptoError)
}

/// The chunk size of every streamed operation: buffers of this size are allocated once per call
/// and reused, so memory stays flat whatever the file size.
package let streamChunkCount = 1 << 20

/// A file descriptor read to its end; `prefix` is served first (bytes already read from it).
package final class DescriptorSource: StreamSource {
    private let descriptor: Int32
    private var prefix: [UInt8]
    private var prefixOffset = 0
    private var readCount = 0
    package let totalCount: Int?

    package init(descriptor: Int32, prefix: [UInt8] = []) {
        self.descriptor = descriptor
        self.prefix = prefix
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG {
            let position = lseek(descriptor, 0, SEEK_CUR)
            totalCount = Int(status.st_size) - Int(max(position, 0)) + prefix.count
        } else {
            totalCount = nil
        }
    }

    package var consumedCount: Int { readCount + prefixOffset }

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(EnvelopeCryptoError) -> Int {
        var filled = min(buffer.count, prefix.count - prefixOffset)
        if filled > 0 {
            prefix.withUnsafeBytes {
                buffer.baseAddress!.copyMemory(from: $0.baseAddress! + prefixOffset, byteCount: filled)
            }
            prefixOffset += filled
        }
        while filled < buffer.count {
            let got = systemRead(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            if got < 0, errno == EINTR { continue }
            if got < 0 { throw .fileAccess("read the input", errno: errno) }
            if got == 0 { break }
            filled += got
            readCount += got
        }
        return filled
    }
}

/// A file descriptor written at its current position.
package final class DescriptorSink: StreamSink {
    private let descriptor: Int32
    private let start: off_t

    package init(descriptor: Int32) {
        self.descriptor = descriptor
        // Under O_APPEND (a shell's `>>`) Linux's pwrite ignores the offset and appends.
        let appending = fcntl(descriptor, F_GETFL) & O_APPEND != 0
        start = appending ? -1 : lseek(descriptor, 0, SEEK_CUR)
    }

    package var canOverwrite: Bool { start >= 0 }

    package func write(_ bytes: UnsafeRawBufferPointer) throws(EnvelopeCryptoError) {
        try writeAll(bytes, to: descriptor)
    }

    package func overwrite(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(EnvelopeCryptoError) {
        guard canOverwrite else { throw .outputNotSeekable }
        var done = 0
        while done < bytes.count {
            let put = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, start + off_t(offset + done))
            if put < 0, errno == EINTR { continue }
            if put < 0 { throw errno == ESPIPE ? .outputNotSeekable : .fileAccess("write the output", errno: errno) }
            done += put
        }
    }

    package func finish() throws(EnvelopeCryptoError) {}
}

/// Writes every byte, resuming after partial writes and signals.
package func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) throws(EnvelopeCryptoError) {
    var offset = 0
    while offset < bytes.count {
        let written = systemWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0, errno == EINTR { continue }
        if written < 0 { throw .fileAccess("write the output", errno: errno) }
        offset += written
    }
}

/// Holds everything written until ``release(to:)``: in memory up to one chunk, then in an
/// unlinked 0600 file in `$TMPDIR`. Decryption to a pipe goes through one, so nothing reaches the
/// pipe before the tag verifies; layout A to a pipe too, since its tag slot is rewritten last.
package final class SpillSink: StreamSink {
    private let memory: UnsafeMutableRawBufferPointer
    private var count = 0
    private var spill: Int32 = -1

    package init() {
        memory = .allocate(byteCount: streamChunkCount, alignment: 16)
    }

    deinit {
        OPENSSL_cleanse(memory.baseAddress, memory.count)
        memory.deallocate()
        if spill >= 0 { _ = close(spill) }
    }

    package var canOverwrite: Bool { true }

    package func write(_ bytes: UnsafeRawBufferPointer) throws(EnvelopeCryptoError) {
        if spill < 0, count + bytes.count <= memory.count {
            (memory.baseAddress! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            count += bytes.count
            return
        }
        if spill < 0 {
            spill = try PrivateFile.createUnlinked()
            try writeAll(UnsafeRawBufferPointer(rebasing: memory[..<count]), to: spill)
            OPENSSL_cleanse(memory.baseAddress, count)
        }
        try writeAll(bytes, to: spill)
        count += bytes.count
    }

    package func overwrite(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(EnvelopeCryptoError) {
        precondition(offset + bytes.count <= count)
        if spill < 0 {
            (memory.baseAddress! + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        } else {
            guard pwrite(spill, bytes.baseAddress!, bytes.count, off_t(offset)) == bytes.count else {
                throw .fileAccess("write the temporary file", errno: errno)
            }
        }
    }

    package func finish() throws(EnvelopeCryptoError) {}

    /// Copies everything held to `descriptor`, a chunk at a time.
    package func release(to descriptor: Int32) throws(EnvelopeCryptoError) {
        guard spill >= 0 else {
            try writeAll(UnsafeRawBufferPointer(rebasing: memory[..<count]), to: descriptor)
            return
        }
        guard lseek(spill, 0, SEEK_SET) == 0 else { throw .fileAccess("rewind the temporary file", errno: errno) }
        let source = DescriptorSource(descriptor: spill)
        let chunk = memory
        defer { OPENSSL_cleanse(chunk.baseAddress, chunk.count) }
        while true {
            let got = try source.read(into: chunk)
            try writeAll(UnsafeRawBufferPointer(rebasing: chunk[..<got]), to: descriptor)
            if got < chunk.count { return }
        }
    }
}

#if canImport(Glibc)
private let systemRead = Glibc.read
private let systemWrite = Glibc.write
#elseif canImport(Musl)
private let systemRead = Musl.read
private let systemWrite = Musl.write
#elseif canImport(Darwin)
private let systemRead = Darwin.read
private let systemWrite = Darwin.write
#endif
