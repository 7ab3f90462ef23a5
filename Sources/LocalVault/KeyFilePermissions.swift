import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Warns at start about key files that others on the machine can read: the root key opens every
/// KEK, a customer key every data key of its pair.
public enum KeyFilePermissions {
    static func warnIfShared(rootKey: RootKeySource, customerKeys: [CustomerKeyMapping], logger: Logger) {
        if case .file(let path) = rootKey { warnIfShared(path: path, what: "root key", logger: logger) }
        for mapping in customerKeys {
            guard let provider = mapping.provider as? FileKeyProvider else { continue }
            warnIfShared(path: provider.path, what: "customer key \(mapping.keyID)", logger: logger)
        }
    }

    /// Whether the file at `path` is readable by its group or by others (a missing file is not).
    /// - Parameter path: the file, as given.
    public static func isShared(path: String) -> Bool {
        var status = stat()
        guard stat(path, &status) == 0 else { return false }
        return status.st_mode & (S_IRGRP | S_IROTH) != 0
    }

    private static func warnIfShared(path: String, what: String, logger: Logger) {
        guard isShared(path: path) else { return }
        logger.warning(
            "a key file is readable by group or others: make it private (chmod 600)",
            metadata: ["key": "\(what)", "path": "\(path)"]
        )
    }
}
