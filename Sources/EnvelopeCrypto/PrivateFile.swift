#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Private (0600) temporary files for streamed output: nothing is visible at the destination
/// until the whole output is written and synced, and nothing is left behind on failure.
package enum PrivateFile {
    /// Runs `body` with a new 0600 file in the folder of `path`, then syncs it and renames it over
    /// `path` (a symbolic link at `path` is replaced, never followed). When `body` throws, the
    /// temporary file is removed and `path` is left as it was.
    package static func replace<Result>(
        _ path: String,
        _ body: (_ descriptor: Int32) throws(EnvelopeCryptoError) -> Result
    ) throws(EnvelopeCryptoError) -> Result {
        let (descriptor, temporaryPath) = try create(nextTo: path)
        let result: Result
        do throws(EnvelopeCryptoError) {
            result = try body(descriptor)
            guard fsync(descriptor) == 0 else { throw .fileAccess("sync the output", errno: errno) }
            guard close(descriptor) == 0 else { throw .fileAccess("write the output", errno: errno) }
        } catch {
            _ = close(descriptor)
            _ = unlink(temporaryPath)
            throw error
        }
        guard rename(temporaryPath, path) == 0 else {
            let code = errno
            _ = unlink(temporaryPath)
            throw .fileAccess("rename the output into place", errno: code)
        }
        syncFolder(of: path)
        return result
    }

    /// A new, empty file next to `path`, created with `O_EXCL` and mode 0600 (then set to exactly
    /// 0600, whatever the umask), and its path.
    package static func create(nextTo path: String) throws(EnvelopeCryptoError) -> (Int32, String) {
        let folder = path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""
        for _ in 0..<16 {
            let temporaryPath = "\(folder).vault-out.\(String(UInt64.random(in: 0...UInt64.max), radix: 36)).tmp"
            let descriptor = open(temporaryPath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if descriptor >= 0 {
                guard fchmod(descriptor, 0o600) == 0 else {
                    let code = errno
                    _ = close(descriptor)
                    _ = unlink(temporaryPath)
                    throw .fileAccess("create the output", errno: code)
                }
                return (descriptor, temporaryPath)
            }
            guard errno == EEXIST else { throw .fileAccess("create the output", errno: errno) }
        }
        throw .fileAccess("create the output", errno: EEXIST)
    }

    /// A new 0600 file in `$TMPDIR` (else `/tmp`), unlinked at once: its blocks are freed when the
    /// descriptor closes, even if the process dies.
    package static func createUnlinked() throws(EnvelopeCryptoError) -> Int32 {
        var folder = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        if folder.isEmpty { folder = "/tmp" }
        if !folder.hasSuffix("/") { folder += "/" }
        let (descriptor, path) = try create(nextTo: folder)
        _ = unlink(path)
        return descriptor
    }

    /// Makes the rename durable. Best effort: some file systems refuse `fsync` on a folder.
    private static func syncFolder(of path: String) {
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let descriptor = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        _ = close(descriptor)
    }
}
