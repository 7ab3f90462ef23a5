import EnvelopeCrypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the root key comes from. The root key wraps every KEK at rest; it is never logged.
public enum RootKeySource: Sendable {
    /// A file holding the raw 32 bytes, created with mode 0600 on first start if it does not exist.
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

    func load() throws -> DataKey {
        switch self {
        case .base64(let text):
            do {
                return try DataKey(base64Encoded: text)
            } catch {
                throw LocalVaultError(.internalError, "the root key must be the base64 of 32 bytes")
            }
        case .file(let path):
            return try Self.loadOrCreate(path: path)
        }
    }

    /// Reads the key file, or creates it: a new key is written to a private temporary file,
    /// flushed, then linked into place, so that two processes starting at once agree on one key
    /// and a crash never leaves a short key file.
    private static func loadOrCreate(path: String) throws -> DataKey {
        if let existing = try read(path: path) { return existing }
        let key = try DataKey.generate()
        let temporary = path + ".\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
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
