import EnvelopeCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a key file: the raw 32 bytes, or their base64 (surrounding whitespace ignored). The read
/// buffer is wiped; nothing of the key is logged. Only a regular file is read: a FIFO or a device
/// could block the reader forever, so it is refused before any read.
enum KeyFile {
    enum Failure: Error {
        case unreadable
        case invalid
        case notARegularFile
    }

    static func load(path: String) throws(Failure) -> DataKey {
        // O_NONBLOCK: opening a FIFO without a writer would otherwise block here.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard descriptor >= 0 else { throw .unreadable }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .unreadable }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notARegularFile }
        var buffer = [UInt8](repeating: 0, count: 128)
        defer { buffer.wipe() }
        var count = 0
        while count < buffer.count {
            let readCount = buffer.withUnsafeMutableBytes {
                read(descriptor, $0.baseAddress! + count, $0.count - count)
            }
            if readCount < 0, errno == EINTR { continue }
            guard readCount >= 0 else { throw .unreadable }
            if readCount == 0 { break }
            count += readCount
        }
        guard count < buffer.count else { throw .invalid }  // longer than any key encoding
        if count == DataKey.byteCount, let key = try? DataKey(copying: Array(buffer[0..<count])) { return key }
        var text = buffer[0..<count]
        while let last = text.last, [0x20, 0x0A, 0x0D, 0x09].contains(last) { text.removeLast() }
        while let first = text.first, [0x20, 0x0A, 0x0D, 0x09].contains(first) { text.removeFirst() }
        guard let key = try? DataKey(base64Encoded: String(decoding: text, as: UTF8.self)) else { throw .invalid }
        return key
    }
}
