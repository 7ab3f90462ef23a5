import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of a file, or of standard input when `path` is nil, read straight into one array
/// (sized from the file when it has a size) with no `Data` or `String` in between: `vault
/// decrypt` of a 200 MB blob spends its time decrypting, not converting text.
func readBytes(from path: String?) throws -> [UInt8] {
    guard let path else { return try readAll(from: STDIN_FILENO) }
    let descriptor = try openForReading(path)
    defer { _ = close(descriptor) }
    return try readAll(from: descriptor, describedAs: path)
}

/// Opens `path` to read it.
/// - Throws: "cannot read PATH: reason" (exit status 1).
func openForReading(_ path: String) throws -> Int32 {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw ValidationError("cannot read \(path): \(String(cString: strerror(errno)))") }
    return descriptor
}

/// Reads `descriptor` to its end: a regular file straight into an array of its size, then
/// whatever is left (all of a pipe, or what a file gained meanwhile) a 1 MiB chunk at a time.
/// - Parameter name: what a failure message calls the input (a folder opens but cannot be read).
func readAll(from descriptor: Int32, describedAs name: String = "the input") throws -> [UInt8] {
    var status = stat()
    let size = fstat(descriptor, &status) == 0 && status.st_mode & S_IFMT == S_IFREG ? Int(status.st_size) : 0
    var failure: Int32 = 0
    var bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
        while initialized < size {
            let got = read(descriptor, buffer.baseAddress! + initialized, size - initialized)
            if got < 0, errno == EINTR { continue }
            if got < 0 { failure = errno }
            if got <= 0 { return }
            initialized += got
        }
    }
    try withUnsafeTemporaryAllocation(byteCount: 1 << 20, alignment: 16) { chunk in
        while failure == 0 {
            let got = read(descriptor, chunk.baseAddress!, chunk.count)
            if got < 0, errno == EINTR { continue }
            if got < 0 { failure = errno }
            if got <= 0 { break }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[..<got]))
        }
        if failure != 0 { throw ValidationError("cannot read \(name): \(String(cString: strerror(failure)))") }
    }
    return bytes
}

/// `bytes` without ASCII whitespace (space, tab, CR, LF, VT, FF) at either end: a base64 blob
/// with the newline `echo` or an editor leaves.
func trimmingASCIIWhitespace(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
    func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
    guard let first = bytes.firstIndex(where: { !isWhitespace($0) }),
        let last = bytes.lastIndex(where: { !isWhitespace($0) })
    else { return [] }
    return bytes[first...last]
}
