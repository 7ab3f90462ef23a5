import ArgumentParser
import CustomerKeyProviders
import Foundation
import LocalVault
import LocalVaultServer
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vault serve`: the WorkOS Vault REST API over the local vault.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the WorkOS Vault REST API (/vault/v1) over the local vault.",
        discussion: """
            Point an official WorkOS SDK at it with WORKOS_BASE_URL and one of the accepted API keys.

            Accepted API keys come from $VAULT_API_KEYS (comma-separated) and/or --api-keys-file \
            (one a line; blank lines and # comments are ignored). An entry is sk_... (environment \
            \(LocalVault.defaultEnvironmentID)) or ENVIRONMENT_ID:sk_..., so that keys can belong to \
            different environments. Keys are never taken from the command line.

            The root key comes from $VAULT_ROOT_KEY (base64 of 32 bytes) or root.key in the data \
            folder, created on first start (only for a store that holds no data yet). A root key \
            that is not the store's is refused (exit status 5).

            The store is vault.sqlite in the data folder, or with --database (or \
            $VAULT_DATABASE_URL) a PostgreSQL database that several instances share; they need \
            the same root key. A database that cannot be reached at start is exit status 5; one \
            lost later makes requests fail with 503 (retryable) until it is back.

            The first line on standard output is `listening on http://HOST:PORT` \
            (`https://` with --tls-cert and --tls-key: HTTP/1.1 over TLS 1.2 or later); logs go \
            to standard error, one line per request. Binding an address other than loopback \
            without TLS logs a warning. SIGINT or SIGTERM stops the server after the requests in \
            flight. SIGHUP reloads the API keys ($VAULT_API_KEYS and --api-keys-file) and \
            --customer-keys; if either cannot be read, the reload is refused (logged) and the keys \
            in force stay. An organization_id mapping to a cloud key (AWS KMS, Google Cloud KMS, \
            Azure Key Vault) that a reload removes, or points at another key, is recorded as \
            vault.byok_key.deleted (actor admin) in each environment of the API keys in force.

            Customer-managed keys (--customer-keys, BYOK): each entry names a provider, "file" or \
            "aws-kms" (the key ARN, an optional endpoint; credentials from AWS_ACCESS_KEY_ID, \
            AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else the shared credentials file and \
            AWS_PROFILE). The file is checked at start and on SIGHUP. A key the provider refuses \
            (disabled, pending deletion, no permission) is a 403, never a fallback; a provider out \
            of reach is a 503. Data keys a cloud key unwrapped are cached for \
            --customer-key-cache-ttl seconds, so a revocation takes effect within that time.

            GET /health answers 200 {"status":"ok"} while the store answers within 3 seconds, else \
            503 {"status":"unavailable"}, without an API key and outside the rate limit. With \
            --metrics, GET /metrics serves Prometheus metrics on the main port, without an API key; \
            with --metrics-port, on 127.0.0.1:PORT only. --log-format json writes each log line as \
            one JSON object; request lines carry actor_id, the API key's id (never the key).

            Slow and silent clients: a request must arrive in full within --read-timeout of its \
            first byte (else 408, or the connection ends mid-body), and a connection without a \
            request is closed after --idle-timeout. At --max-connections (default: 3/4 of the \
            open-file limit, which is raised to its hard limit at start, at most 16384), a new \
            connection closes the one that has waited longest without a request.

            Examples:
              VAULT_API_KEYS=sk_test_local vault serve
              VAULT_API_KEYS=sk_test_a,environment_staging:sk_test_b vault serve --port 8080
              vault serve --port 0 --data-dir /tmp/vault --api-keys-file ./keys.txt
              vault serve --customer-keys ./byok.json --rate-limit 100 --rate-window 10
              vault serve --read-timeout 10 --idle-timeout 15 --max-connections 2000
              VAULT_DATABASE_URL=postgres://vault:secret@db:5432/vault vault serve --host 0.0.0.0
              vault serve --host 0.0.0.0 --tls-cert server.pem --tls-key server-key.pem
              vault serve --metrics-port 9464 --log-format json
            """
    )

    @Option(help: "The address to bind.")
    var host = "127.0.0.1"

    @Option(help: "The port to bind; 0 picks a free port.")
    var port = 8080

    @Option(name: .customLong("data-dir"), help: "The vault's data folder (default: see `vault --help`).")
    var dataDirectory: String?

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var tls: TLSOptions

    @Option(
        name: .customLong("api-keys-file"),
        help: "A file of accepted API keys, one a line (adds to $VAULT_API_KEYS).",
        completion: .file()
    )
    var apiKeysFile: String?

    @Option(
        name: .customLong("customer-keys"),
        help: "A JSON file of customer-managed keys (BYOK) by context pair.",
        completion: .file(extensions: ["json"])
    )
    var customerKeysFile: String?

    @Option(
        name: .customLong("customer-key-cache-ttl"),
        help: ArgumentHelp(
            "Seconds a data key unwrapped by a cloud customer key (AWS KMS, ...) stays cached (0: no cache).",
            discussion: "A key revoked at the provider stops working here within this time."
        )
    )
    var customerKeyCacheTTL = 60

    @Option(name: .customLong("rate-limit"), help: "Requests allowed per API key and window.")
    var rateLimit = RateLimit.workOSDefault.requests

    @Option(name: .customLong("rate-window"), help: "The rate-limit window, in seconds.")
    var rateWindow = 60

    @Option(
        name: .customLong("max-body-size"),
        help: """
            The largest request body accepted, in bytes (else 413). The default fits any object value \
            the store accepts (1 MiB) however its JSON is escaped.
            """
    )
    var maxBodySize = VaultServerConfiguration.defaultMaxBodySize

    @Option(
        name: .customLong("purge-delay"),
        help: "Seconds a deleted object holds its name before it is purged for good (0: at once)."
    )
    var purgeDelay = 300

    @Option(
        name: .customLong("read-timeout"),
        help: "Seconds a request may take to arrive in full, head and body, from its first byte (else 408 or close)."
    )
    var readTimeout = 30

    @Option(
        name: .customLong("idle-timeout"),
        help: "Seconds a connection may wait for its next request, or for the client to read a response."
    )
    var idleTimeout = 30

    @Option(
        name: .customLong("max-connections"),
        help: "The most connections open at once (default: 3/4 of the open-file limit, at most 16384)."
    )
    var maxConnections: Int?

    @Option(
        name: .customLong("kek-max-age"),
        help: "Days after which a key-encrypting key gets a new version, checked hourly (default: never)."
    )
    var kekMaxAge: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @OptionGroup var operations: ServeOperationsOptions
    @OptionGroup var events: EventOptions

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        guard rateLimit >= 1 else { throw ValidationError("--rate-limit must be at least 1") }
        guard rateWindow >= 1 else { throw ValidationError("--rate-window must be at least 1 second") }
        guard maxBodySize >= 1_024 else { throw ValidationError("--max-body-size must be at least 1024 bytes") }
        guard (0...86_400).contains(customerKeyCacheTTL) else {
            throw ValidationError("--customer-key-cache-ttl must be 0 to 86400 seconds")
        }
        guard purgeDelay >= 0 else { throw ValidationError("--purge-delay must be 0 or more seconds") }
        guard (1...3_600).contains(readTimeout) else {
            throw ValidationError("--read-timeout must be 1 to 3600 seconds")
        }
        guard (1...3_600).contains(idleTimeout) else {
            throw ValidationError("--idle-timeout must be 1 to 3600 seconds")
        }
        if let kekMaxAge, !(1...36_500).contains(kekMaxAge) {
            throw ValidationError("--kek-max-age must be 1 to 36500 days")
        }
        if let maxConnections, maxConnections < 1 {
            throw ValidationError("--max-connections must be at least 1")
        }
        if let metricsPort = operations.metricsPort, metricsPort == port, port != 0 {
            throw ValidationError("--metrics-port must differ from --port")
        }
        try events.validate()
    }

    func run() async throws {
        // A parent may start us with signals blocked (Foundation.Process does): without this,
        // SIGTERM and SIGINT would never arrive and the server could not stop gracefully (nor
        // SIGHUP reload its keys).
        await MainActor.run { Self.unblockShutdownSignals() }
        let level = logLevel
        let logFormat = operations.logFormat
        // Each log line's timestamp goes through localtime_r, which re-reads /etc/localtime on
        // every call while TZ is unset; naming the same zone once makes glibc load it once.
        if getenv("TZ") == nil { setenv("TZ", ":/etc/localtime", 0) }
        LoggingSystem.bootstrap { label in
            // StreamLogHandler's lines, written at a fraction of its cost per request.
            var handler = ServerLogHandler.standardError(label: label, format: logFormat)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "vault")

        var configuration = VaultServerConfiguration(
            host: host,
            port: port,
            dataDirectory: dataDirectory ?? LocalVaultHome.defaultDirectory(),
            databaseURL: try database.url { logger.warning("\($0)") },
            apiKeys: try Self.loadAPIKeys(file: apiKeysFile),
            customerKeys: try Self.loadCustomerKeys(file: customerKeysFile, cacheTTL: customerKeyCacheTTL),
            rateLimit: RateLimit(requests: rateLimit, window: .seconds(rateWindow)),
            maxBodySize: maxBodySize,
            purgeDelay: .seconds(purgeDelay),
            connectionLimits: ConnectionLimits(
                readTimeout: .seconds(readTimeout),
                idleTimeout: .seconds(idleTimeout),
                maxConnections: maxConnections
            ),
            kekMaxAge: kekMaxAge.map { .seconds($0 * 86_400) },
            tls: try tls.load(),
            keySources: KeySources(
                apiKeys: { [apiKeysFile] in try Self.loadAPIKeys(file: apiKeysFile) },
                customerKeys: { [customerKeysFile, customerKeyCacheTTL] in
                    try Self.loadCustomerKeys(file: customerKeysFile, cacheTTL: customerKeyCacheTTL)
                }
            )
        )
        configuration.metrics = operations.bootstrapMetrics()
        configuration.events = events.settings(warningTo: logger)
        logger.info(
            "starting",
            metadata: [
                "data_dir": "\(configuration.dataDirectory)",
                "store": "\(database.redactedDescription ?? "sqlite")",
                "api_keys": "\(configuration.apiKeys.keys.count)",
                "customer_keys": "\(configuration.customerKeys.count)",
            ]
        )
        do {
            try await VaultServer.run(configuration: configuration, logger: logger) { url in
                // Written straight to the descriptor, unbuffered: scripts wait for this line.
                FileHandle.standardOutput.write(Data("listening on \(url)\n".utf8))
            }
        } catch {
            // The vault could not be opened or the address bound: a service failure (exit 5).
            let message = (error as? LocalVaultError)?.message ?? "\(error)"
            FileHandle.standardError.write(Data("vault: serve: \(message)\n".utf8))
            throw ExitCode(5)
        }
    }

    /// Reads and validates the BYOK file (every provider built, credentials found), at start and
    /// on SIGHUP.
    private static func loadCustomerKeys(file customerKeysFile: String?, cacheTTL: Int) throws -> [CustomerKeyMapping] {
        guard let customerKeysFile else { return [] }
        do {
            return try CustomerKeyConfiguration.load(file: customerKeysFile, cacheTTL: .seconds(cacheTTL))
        } catch let error as LocalVaultError {
            throw ValidationError(error.message)
        }
    }

    private static func loadAPIKeys(file apiKeysFile: String?) throws -> APIKeyRing {
        var entries: [APIKeyRing.Entry] = []
        if let value = ProcessInfo.processInfo.environment[APIKeyRing.environmentVariable] {
            entries += APIKeyRing.entries(environmentValue: value)
        }
        if let apiKeysFile {
            do {
                entries += try APIKeyRing.entries(file: apiKeysFile)
            } catch {
                throw ValidationError(error.description)
            }
        }
        guard !entries.isEmpty else {
            throw ValidationError(
                "no API keys: set \(APIKeyRing.environmentVariable) (comma-separated) or pass --api-keys-file FILE"
            )
        }
        do {
            return try APIKeyRing(entries: entries)
        } catch {
            throw ValidationError(error.description)
        }
    }

    private static func unblockShutdownSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGHUP)
        // Until the reload service traps it, a SIGHUP (a `systemctl reload` during start) is
        // ignored rather than ending the process.
        signal(SIGHUP, SIG_IGN)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
