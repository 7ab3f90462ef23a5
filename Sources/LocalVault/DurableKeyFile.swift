import EnvelopeCrypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Key files written so that they survive a crash: created new (never over another file), mode
/// 0600, flushed, and their folder flushed too, so that the name is on disk before anything
/// depends on it. Renames flush the folder as well.
enum DurableKeyFile {
    /// How the key is written: the raw 32 bytes (as `root.key`), or base64 and a newline (for a
    /// value to copy into `VAULT_ROOT_KEY`). ``KeyFile`` reads both.
    enum Encoding {
        case raw
        case base64
    }

    /// Creates `path` holding `key`. Fails if `path` exists.
    static func create(path: String, key: DataKey, encoding: Encoding) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else {
            let reason = errno == EEXIST ? "it already exists" : String(cString: strerror(errno))
            throw LocalVaultError(.internalError, "cannot create the key file \(path): \(reason)")
        }
        var bytes: [UInt8]
        switch encoding {
        case .raw: bytes = key.withUnsafeBytes { Array($0) }
        case .base64: bytes = Array((key.base64EncodedString() + "\n").utf8)
        }
        defer { bytes.wipe() }
        // The mode asked for is narrowed by the umask only; make sure of 0600 whatever the umask.
        _ = fchmod(descriptor, 0o600)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { break }
            offset += written
        }
        let synced = fsync(descriptor)
        close(descriptor)
        guard offset == bytes.count, synced == 0 else {
            unlink(path)
            throw LocalVaultError(.internalError, "cannot write the key file \(path)")
        }
        try syncFolder(of: path)
    }

    /// Renames `source` to `destination` (replacing it) and flushes the folder.
    static func replace(_ destination: String, with source: String) throws {
        guard rename(source, destination) == 0 else {
            throw LocalVaultError(
                .internalError,
                "cannot rename \(source) to \(destination): \(String(cString: strerror(errno)))"
            )
        }
        try syncFolder(of: destination)
    }

    /// Removes `path` (if it exists) and flushes the folder.
    static func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw LocalVaultError(.internalError, "cannot remove \(path): \(String(cString: strerror(errno)))")
        }
        try syncFolder(of: path)
    }

    private static func syncFolder(of path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let descriptor = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw LocalVaultError(.internalError, "cannot open the folder of \(path)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw LocalVaultError(.internalError, "cannot flush the folder of \(path)")
        }
    }
}
