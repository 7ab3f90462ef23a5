import Logging

/// The warning `vault serve` gives when it serves plain HTTP to other machines: API keys and
/// values would cross the network unencrypted.
enum ServerTransportWarning {
    static func logIfPlainHTTPBeyondLoopback(_ configuration: VaultServerConfiguration, logger: Logger) {
        guard configuration.tls == nil, !isLoopback(host: configuration.host) else { return }
        logger.warning(
            "serving plain HTTP on a non-loopback address: API keys and values cross the network unencrypted; pass --tls-cert and --tls-key, or put a TLS proxy in front",
            metadata: ["host": "\(configuration.host)"]
        )
    }

    /// Whether `host` names this machine only: `localhost`, 127.0.0.0/8 or `::1`.
    static func isLoopback(host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host == "::1" || host == "[::1]" || host == "0:0:0:0:0:0:0:1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
