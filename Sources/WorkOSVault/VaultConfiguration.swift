import Foundation

#if EmbeddedStore
import LocalVault
#endif

/// How the client reaches its keys: the WorkOS API (or any server speaking it, such as
/// `vault serve`), or the embedded LocalVault store on this machine.
public enum VaultBackend: Sendable {
    /// A Vault REST API.
    case remote(RemoteConfiguration)
    #if EmbeddedStore
    /// The embedded store in this folder (a SQLite file and its root key). Only with the
    /// `EmbeddedStore` trait (on by default).
    case embedded(dataDirectory: String)
    #endif
}

/// Settings for a Vault REST API.
public struct RemoteConfiguration: Sendable, CustomStringConvertible, CustomReflectable {
    /// `https://api.workos.com` unless `WORKOS_BASE_URL` says otherwise.
    public static let defaultBaseURL = "https://api.workos.com"

    /// The API key (`sk_...`). Kept out of ``description`` and `dump()`.
    public var apiKey: String
    public var clientID: String?
    /// The base URL, without a trailing slash.
    public var baseURL: String
    /// The limit on one request, connection included.
    public var requestTimeout: Duration
    public var retry: RetryPolicy
    /// A PEM file of the certificate authorities to trust instead of the system's bundle, for a
    /// server whose certificate a private CA signed (such as `vault serve --tls-cert`). The
    /// certificate is verified either way.
    public var caFile: String?

    /// - Throws: ``VaultError/Code-swift.struct/invalidAPIKey`` if `apiKey` does not start with
    ///   `sk_`; ``VaultError/Code-swift.struct/configuration`` for a base URL that is not http(s).
    public init(
        apiKey: String,
        clientID: String? = nil,
        baseURL: String = RemoteConfiguration.defaultBaseURL,
        requestTimeout: Duration = .seconds(60),
        retry: RetryPolicy = RetryPolicy(),
        caFile: String? = nil
    ) throws {
        guard apiKey.hasPrefix("sk_"), apiKey.count > 3 else {
            throw VaultError(.invalidAPIKey, "the API key must start with sk_")
        }
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("https://") || base.hasPrefix("http://") else {
            throw VaultError(.configuration, "the base URL must be an http or https URL")
        }
        self.apiKey = apiKey
        self.clientID = clientID
        self.baseURL = base
        self.requestTimeout = requestTimeout
        self.retry = retry
        self.caFile = caFile
    }

    public var description: String {
        "RemoteConfiguration(baseURL: \(baseURL), apiKey: redacted, timeout: \(requestTimeout)"
            + (caFile.map { ", caFile: \($0))" } ?? ")")
    }

    public var customMirror: Mirror {
        Mirror(
            self,
            children: ["baseURL": baseURL, "requestTimeout": requestTimeout, "caFile": caFile as Any],
            displayStyle: .struct
        )
    }
}

/// The client's configuration.
public struct VaultConfiguration: Sendable {
    public var backend: VaultBackend
    /// Reuse of data keys for encryption: `nil` (the default) keeps Vault's one data key per message.
    public var encryptCache: DataKeyCachePolicy?
    /// The unwrapped-key cache for decryption: on by default with a small bound; `nil` turns it off.
    public var decryptCache: DecryptCachePolicy?
    /// With the embedded backend, how long a deleted object holds its name before it is purged
    /// for good (zero: at once); see `LocalVaultConfiguration.purgeDelay`. Five
    /// minutes by default. A server decides this for itself.
    public var embeddedPurgeDelay: Duration

    public init(
        backend: VaultBackend,
        encryptCache: DataKeyCachePolicy? = nil,
        decryptCache: DecryptCachePolicy? = DecryptCachePolicy(),
        embeddedPurgeDelay: Duration = VaultConfiguration.defaultEmbeddedPurgeDelay
    ) {
        self.backend = backend
        self.encryptCache = encryptCache
        self.decryptCache = decryptCache
        self.embeddedPurgeDelay = embeddedPurgeDelay
    }

    /// Five minutes: the embedded store's own default.
    public static let defaultEmbeddedPurgeDelay: Duration = .seconds(300)

    /// The variable naming a PEM file of certificate authorities to trust (see
    /// ``RemoteConfiguration/caFile``), as the curl tool reads it.
    public static let caFileVariable = "CURL_CA_BUNDLE"

    /// Reads the environment the way the official SDKs do: with `WORKOS_API_KEY` set, the REST API
    /// at `WORKOS_BASE_URL` (default `https://api.workos.com`) with `WORKOS_CLIENT_ID` and
    /// `WORKOS_REQUEST_TIMEOUT` (seconds, default 60), trusting the certificate authorities of
    /// the PEM file in `CURL_CA_BUNDLE` when set (as the curl tool does) instead of the system's.
    /// With no WorkOS variable set, the embedded store in ``defaultDataDirectory(environment:)``.
    /// - Throws: ``VaultError`` for an API key without `sk_`, a bad timeout, or WorkOS variables
    ///   set without `WORKOS_API_KEY`.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> VaultConfiguration {
        let workOS = ["WORKOS_API_KEY", "WORKOS_BASE_URL", "WORKOS_CLIENT_ID", "WORKOS_REQUEST_TIMEOUT"]
            .filter { !(environment[$0] ?? "").isEmpty }
        guard !workOS.isEmpty else {
            #if EmbeddedStore
            return VaultConfiguration(backend: .embedded(dataDirectory: defaultDataDirectory(environment: environment)))
            #else
            throw VaultError(.configuration, "WORKOS_API_KEY is not set (this build has no embedded store)")
            #endif
        }
        guard let apiKey = environment["WORKOS_API_KEY"], !apiKey.isEmpty else {
            throw VaultError(.configuration, "\(workOS.joined(separator: ", ")) set but WORKOS_API_KEY is not")
        }
        var timeout = Duration.seconds(60)
        if let text = environment["WORKOS_REQUEST_TIMEOUT"], !text.isEmpty {
            guard let seconds = Double(text), seconds > 0, seconds <= 3600 else {
                throw VaultError(.configuration, "WORKOS_REQUEST_TIMEOUT must be a number of seconds")
            }
            timeout = .milliseconds(Int64(seconds * 1000))
        }
        let remote = try RemoteConfiguration(
            apiKey: apiKey,
            clientID: environment["WORKOS_CLIENT_ID"],
            baseURL: environment["WORKOS_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
                ?? RemoteConfiguration.defaultBaseURL,
            requestTimeout: timeout,
            caFile: environment[caFileVariable].flatMap { $0.isEmpty ? nil : $0 }
        )
        return VaultConfiguration(backend: .remote(remote))
    }

    #if EmbeddedStore
    /// Where the embedded store lives: `$VAULT_HOME` when set; otherwise
    /// `$XDG_DATA_HOME/workos-vault` or `~/.local/share/workos-vault` on Linux and
    /// `~/Library/Application Support/workos-vault` on macOS.
    public static func defaultDataDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        LocalVaultHome.defaultDirectory(environment: environment)
    }
    #endif
}
