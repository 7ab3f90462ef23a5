import ArgumentParser
import EnvelopeCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where `--out` sends a command's output, decided from what the path names when the output is
/// written.
///
/// - A new path or a regular file: the bytes go to a new private (0600) file in the same folder,
///   which is then renamed over the path, so readers see the old file or the whole new one and
///   no one else can read the bytes at any moment.
/// - `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`: written to that open
///   descriptor, as a shell does, whatever it is (a terminal, a pipe, a file opened with `>>`).
/// - A device, a FIFO or a socket, or a symbolic link to one: opened and written through, never
///   replaced, truncated or created.
/// - A symbolic link to a regular file, a directory or nothing: refused. Following it would let
///   whoever can write the link's folder (say `/tmp`) aim a root-run `vault` at any file.
enum OutputFile: Equatable {
    case descriptor(Int32)
    case replaced(String)
    case writtenThrough(String)

    /// Classifies `path`.
    /// - Throws: ``OutputFileError`` for a directory or a symbolic link to anything but a device,
    ///   FIFO or socket.
    static func resolve(_ path: String) throws(OutputFileError) -> OutputFile {
        if let descriptor = standardDescriptor(named: path) { return .descriptor(descriptor) }
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return .replaced(path) }
            throw OutputFileError("cannot inspect --out", errno: errno)
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG:
            return .replaced(path)
        case S_IFDIR:
            throw OutputFileError("--out names a directory")
        case S_IFLNK:
            guard stat(path, &status) == 0 else {
                throw OutputFileError("--out is a symbolic link to nothing; give a real path")
            }
            switch status.st_mode & S_IFMT {
            case S_IFREG, S_IFDIR:
                throw OutputFileError("--out is a symbolic link to a file or folder; give the file's own path")
            default:
                return .writtenThrough(path)
            }
        default:
            return .writtenThrough(path)
        }
    }

    /// Writes `bytes` to `path` as ``resolve(_:)`` decides.
    static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws(OutputFileError) {
        switch try resolve(path) {
        case .descriptor(let descriptor):
            try writeAll(bytes, to: descriptor)
        case .replaced(let path):
            do {
                try PrivateFile.replace(path) { (descriptor) throws(EnvelopeCryptoError) in
                    try EnvelopeCrypto.writeAll(bytes, to: descriptor)
                }
            } catch {
                throw OutputFileError("cannot write --out", error)
            }
        case .writtenThrough(let path):
            try writeThrough(path, bytes)
        }
    }

    /// The descriptor that `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` or `/proc/self/fd/N` names.
    static func standardDescriptor(named path: String) -> Int32? {
        switch path {
        case "/dev/stdout": return STDOUT_FILENO
        case "/dev/stderr": return STDERR_FILENO
        default:
            for folder in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(folder) {
                let number = path.dropFirst(folder.count)
                guard number.allSatisfy(\.isASCII), let descriptor = Int32(number), descriptor >= 0 else { return nil }
                return descriptor
            }
            return nil
        }
    }

    /// A new, empty file in the folder of `path`, created with `O_EXCL` and mode 0600 (then set
    /// to exactly 0600, whatever the umask) so that no other mode ever exists: EnvelopeCrypto's
    /// `PrivateFile`, with this command line's wording.
    static func createPrivateFile(nextTo path: String) throws(OutputFileError) -> (Int32, String) {
        do {
            return try PrivateFile.create(nextTo: path)
        } catch {
            throw OutputFileError("cannot create --out", error)
        }
    }

    /// Opens an existing device, FIFO or socket for writing (no `O_CREAT`, no `O_TRUNC`: a device
    /// is never replaced or created) and writes `bytes` to it. A FIFO waits for its reader.
    private static func writeThrough(_ path: String, _ bytes: UnsafeRawBufferPointer) throws(OutputFileError) {
        let descriptor = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
        guard descriptor >= 0 else { throw OutputFileError("cannot open --out", errno: errno) }
        defer { _ = close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw OutputFileError("cannot inspect --out", errno: errno) }
        // The path changed between the check and the open: never write a regular file this way.
        guard status.st_mode & S_IFMT != S_IFREG else { throw OutputFileError("--out changed while writing") }
        try writeAll(bytes, to: descriptor)
    }

    /// Writes every byte, resuming after partial writes and signals.
    static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) throws(OutputFileError) {
        do {
            try EnvelopeCrypto.writeAll(bytes, to: descriptor)
        } catch {
            throw OutputFileError("cannot write --out", error)
        }
    }
}

/// Why `--out` could not be written: a rule or the system's reason, never the path or the data.
struct OutputFileError: Error, CustomStringConvertible {
    let description: String

    init(_ rule: String) { description = rule }

    init(_ rule: String, errno code: Int32) { description = "\(rule): \(String(cString: strerror(code)))" }

    /// `rule`, with the reason EnvelopeCrypto's file code gave.
    init(_ rule: String, _ error: EnvelopeCryptoError) { description = "\(rule) (\(error.reason))" }
}
