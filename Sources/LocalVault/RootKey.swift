import EnvelopeCrypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the root key comes from. The root key wraps every KEK at rest; it is never logged.
public enum RootKeySource: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// A file holding the raw 32 bytes, created with mode 0600 on first start if it does not
    /// exist and the store holds no data yet.
    case file(String)
    /// Base64 of the 32 bytes, typically read from the `VAULT_ROOT_KEY` environment variable.
    case base64(String)

    /// The environment variable that, when set, supplies the root key (base64).
    public static let environmentVariable = "VAULT_ROOT_KEY"

    /// `VAULT_ROOT_KEY` when set, otherwise `root.key` in `dataDirectory`.
    public static func `default`(dataDirectory: String) -> RootKeySource {
        if let value = ProcessInfo.processInfo.environment[environmentVariable], !value.isEmpty {
            return .base64(value)
        }
        return .file((dataDirectory as NSString).appendingPathComponent("root.key"))
    }

    /// The file's path, or that the key is given directly; never the key.
    public var description: String {
        switch self {
        case .file(let path): "RootKeySource.file(\(path))"
        case .base64: "RootKeySource.base64(redacted)"
        }
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        switch self {
        case .file(let path): Mirror(self, children: ["file": path], displayStyle: .enum)
        case .base64: Mirror(self, children: ["base64": "redacted"], displayStyle: .enum)
        }
    }

    /// Where the key is, for a log line.
    var logDescription: String {
        switch self {
        case .file(let path): path
        case .base64: "given as base64 (\(Self.environmentVariable))"
        }
    }

    /// Reads the key; a missing key file is created only when `mayCreate` (the store holds no
    /// data: a new key for a store that does would split it in two).
    /// - Returns: the key, and whether a key file was created.
    func load(mayCreate: Bool) throws -> (key: DataKey, created: Bool) {
        switch self {
        case .base64(let text):
            do {
                return (try DataKey(base64Encoded: text), false)
            } catch {
                throw LocalVaultError(.internalError, "the root key must be the base64 of 32 bytes")
            }
        case .file(let path):
            if let existing = try Self.read(path: path) { return (existing, false) }
            guard mayCreate else {
                throw LocalVaultError(
                    .internalError,
                    "the store holds data but its root key file \(path) is missing: refusing to create a new root key "
                        + "(restore the file, or set \(Self.environmentVariable) to the store's root key)",
                    rule: .rootKey
                )
            }
            return (try Self.create(path: path), true)
        }
    }

    /// Creates the key file: a new key is written to a private temporary file, flushed, then
    /// linked into place, so that two processes starting at once agree on one key and a crash
    /// never leaves a short key file.
    private static func create(path: String) throws -> DataKey {
        let key = try DataKey.generate()
        // The data folder of a store kept elsewhere (PostgreSQL) holds only this file: made private.
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let temporary = path + ".\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw LocalVaultError(.internalError, "cannot create the root key file at \(path)")
        }
        let written = key.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        defer { unlink(temporary) }
        guard written == DataKey.byteCount, synced == 0 else {
            throw LocalVaultError(.internalError, "cannot write the root key file at \(path)")
        }
        if link(temporary, path) != 0, errno != EEXIST {
            throw LocalVaultError(.internalError, "cannot create the root key file at \(path)")
        }
        guard let stored = try read(path: path) else {
            throw LocalVaultError(.internalError, "cannot read the root key file at \(path)")
        }
        return stored
    }

    private static func read(path: String) throws -> DataKey? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try KeyFile.load(path: path)
        } catch {
            throw LocalVaultError(.internalError, "the root key file at \(path) is unreadable or not a 32-byte key")
        }
    }
}
