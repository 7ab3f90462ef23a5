import Logging
import WorkOSVault

/// `--verbose`: the client's own debug lines (each request's method, path, status, duration,
/// request id and attempt, so retries show) on standard error. The client never logs keys,
/// values, plaintext or the API key.
enum VerboseLog {
    static func logger() -> Logger {
        var logger = Logger(label: "vault") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .debug
        return logger
    }

    /// Which backend the client uses: the server's URL or the embedded store's folder, never the API key.
    static func metadata(of backend: VaultBackend) -> Logger.Metadata {
        switch backend {
        case .remote(let remote): ["base_url": "\(remote.baseURL)"]
        case .embedded(let dataDirectory): ["embedded_store": "\(dataDirectory)"]
        }
    }
}
