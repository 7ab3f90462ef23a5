import Foundation
import Hummingbird
import HummingbirdCore
import LocalVault
import LocalVaultPostgres
import Logging
import NIOCore
import ServiceLifecycle

/// How `vault serve` runs.
public struct VaultServerConfiguration: Sendable {
    /// The address to bind; loopback unless told otherwise.
    public var host: String
    /// The port to bind; 0 picks a free one.
    public var port: Int
    /// The engine's data folder: its SQLite store (unless ``databaseURL`` is set) and, by
    /// default, its root key file.
    public var dataDirectory: String
    /// A PostgreSQL URL: the store is that database, shared with other instances; nil for the
    /// data folder's SQLite store.
    public var databaseURL: String?
    /// The accepted API keys.
    public var apiKeys: APIKeyRing
    /// Customer-managed keys (BYOK).
    public var customerKeys: [CustomerKeyMapping]
    /// Requests allowed per API key and window.
    public var rateLimit: RateLimit
    /// The largest request body accepted; larger ones get 413. The default,
    /// ``defaultMaxBodySize``, fits any object value the engine accepts.
    public var maxBodySize: Int
    /// How long a deleted object holds its name before it is purged for good (0: at once).
    public var purgeDelay: Duration
    /// Read and idle timeouts, and the connection cap.
    public var connectionLimits: ConnectionLimits
    /// When set, every KEK whose newest version is older is rotated (checked hourly); nil: never.
    public var kekMaxAge: Duration?
    /// When set, HTTPS (HTTP/1.1 over TLS) instead of plain HTTP.
    public var tls: ServerTLS?
    /// When set, SIGHUP reloads the API keys and customer keys from these; nil: SIGHUP is not
    /// handled.
    public var keySources: KeySources?
    /// Prometheus metrics (`GET /metrics`); nil: none (the default).
    public var metrics: MetricsExposure? = nil
    /// Whether events are recorded, and how long they are kept.
    public var events = EventSettings()

    /// 6 MiB + 64 KiB: a request carrying a value of ``LocalVault/maxValueSize`` bytes, each
    /// escaped as `\u0000`, with its name and key context.
    public static let defaultMaxBodySize = BodyLimitMiddleware.defaultLimit

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        dataDirectory: String,
        databaseURL: String? = nil,
        apiKeys: APIKeyRing,
        customerKeys: [CustomerKeyMapping] = [],
        rateLimit: RateLimit = .workOSDefault,
        maxBodySize: Int = VaultServerConfiguration.defaultMaxBodySize,
        purgeDelay: Duration = LocalVaultConfiguration.defaultPurgeDelay,
        connectionLimits: ConnectionLimits = .default,
        kekMaxAge: Duration? = nil,
        tls: ServerTLS? = nil,
        keySources: KeySources? = nil
    ) {
        self.kekMaxAge = kekMaxAge
        self.tls = tls
        self.keySources = keySources
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.apiKeys = apiKeys
        self.customerKeys = customerKeys
        self.rateLimit = rateLimit
        self.maxBodySize = maxBodySize
        self.purgeDelay = purgeDelay
        self.connectionLimits = connectionLimits
    }

    /// The base URL clients use, for a given bound port.
    public func baseURL(port: Int) -> String {
        let host = host.contains(":") ? "[\(host)]" : host
        return "\(tls == nil ? "http" : "https")://\(host):\(port)"
    }
}

/// The WorkOS Vault REST API over a ``LocalVault``.
public enum VaultServer {
    /// The router with every endpoint and the middleware chain, outermost first: request
    /// logging and error bodies, authentication, rate limiting, the body limit, idempotency.
    /// `/health` (and `/metrics` on the main listener) get request logging only.
    public static func makeRouter(
        vault: LocalVault,
        configuration: VaultServerConfiguration
    ) -> Router<VaultRequestContext> {
        makeRouter(vault: vault, configuration: configuration, apiKeys: ReloadableAPIKeys(configuration.apiKeys))
    }

    /// The router, authenticating against `apiKeys` (which a reload replaces).
    static func makeRouter(
        vault: LocalVault,
        configuration: VaultServerConfiguration,
        apiKeys: ReloadableAPIKeys
    ) -> Router<VaultRequestContext> {
        let router = Router(context: VaultRequestContext.self)
        let logging = RequestLoggingMiddleware(metrics: configuration.metrics.map { HTTPMetrics(factory: $0.factory) })
        // First: the middleware added below wraps only the routes registered after it.
        OperationsRoutes(
            health: StoreHealth { try await vault.checkStoreAvailable() },
            metrics: configuration.metrics?.port == nil ? configuration.metrics?.registry : nil,
            logging: logging
        ).register(on: router)
        // One statically chained stack: each middleware added on its own costs a few more
        // executor hops per request.
        router.addMiddleware {
            logging
            AuthenticationMiddleware(keys: apiKeys)
            RateLimitMiddleware(limiter: RateLimiter(limit: configuration.rateLimit))
            BodyLimitMiddleware(limit: configuration.maxBodySize)
            IdempotencyMiddleware(vault: vault)
        }
        VaultRoutes(endpoints: VaultEndpoints(vault: vault)).register(on: router)
        return router
    }

    /// The largest request line or header field (16 KiB: a 200-character name, percent-encoded,
    /// takes 2.4 kB), all header fields together (64 KiB), and the most header fields (100)
    /// accepted. Beyond, the answer is 414 or 431.
    static let decoderLimits = HTTP1Channel.Configuration.DecoderConfiguration(
        maxHeaderFieldSize: 16 << 10,
        maxHeaderListSize: 64 << 10,
        maxHeaderFieldCount: 100
    )

    /// The application: the router, bound per `configuration`, with the purge service, the
    /// timeouts and the connection cap.
    /// - Parameter onListening: called with the base URL once the socket is bound.
    public static func makeApplication(
        vault: LocalVault,
        configuration: VaultServerConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (String) -> Void = { _ in }
    ) -> some ApplicationProtocol {
        makeApplication(
            vault: vault,
            configuration: configuration,
            apiKeys: ReloadableAPIKeys(configuration.apiKeys),
            services: [],
            logger: logger,
            onListening: onListening
        )
    }

    /// The application, authenticating against `apiKeys`, with `services` added.
    static func makeApplication(
        vault: LocalVault,
        configuration: VaultServerConfiguration,
        apiKeys: ReloadableAPIKeys,
        services: [any Service],
        logger: Logger,
        onListening: @escaping @Sendable (String) -> Void
    ) -> some ApplicationProtocol {
        let limits = configuration.connectionLimits
        let maxConnections = maxConnections(for: limits)
        let registry = ConnectionRegistry(capacity: maxConnections, logger: logger)
        var application = Application(
            router: makeRouter(vault: vault, configuration: configuration, apiKeys: apiKeys),
            server: .guardedHTTP1(
                limits: limits,
                registry: registry,
                decoderLimits: decoderLimits,
                tls: configuration.tls
            ),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                // The hard stop, reached only when every connection has a request in progress:
                // below it, the registry closes waiting connections to make room.
                availableConnectionsDelegate: MaximumAvailableConnections(maxConnections, logger: logger)
            ),
            onServerRunning: { channel in
                onListening(configuration.baseURL(port: channel.localAddress?.port ?? configuration.port))
            },
            logger: logger
        )
        application.addServices(
            PurgeService(vault: vault, logger: logger, eventRetention: configuration.events.retention)
        )
        application.addServices(services)
        if let maxAge = configuration.kekMaxAge {
            application.addServices(KEKRotationService(vault: vault, maxAge: maxAge, logger: logger))
        }
        if let metrics = configuration.metrics, metrics.port != nil {
            application.addServices(metrics.listener(logger: logger))
        }
        return application
    }

    /// The connection cap in force: the configured one, else one derived from the file limit;
    /// never more than leaves a quarter of the file limit to the rest of the process. At the
    /// file limit, more than connections fail: SQLite cannot open a reader, and libdispatch's
    /// thread monitor, which opens `/proc/self/task/.../stat`, kills the process (SIGILL).
    static func maxConnections(for limits: ConnectionLimits) -> Int {
        let fileLimit = FileDescriptorLimit.current() ?? 1_024
        guard let configured = limits.maxConnections else {
            return FileDescriptorLimit.defaultMaxConnections(fileLimit: fileLimit)
        }
        return min(configured, FileDescriptorLimit.connectionsAllowed(fileLimit: fileLimit))
    }

    /// Opens the vault and serves until SIGINT or SIGTERM, then finishes the requests in flight
    /// and returns.
    /// - Parameter onListening: called with the base URL once the socket is bound.
    /// - Throws: ``LocalVaultError`` if the vault cannot be opened; an error if the address
    ///   cannot be bound.
    public static func run(
        configuration: VaultServerConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws {
        // Before anything opens a file: connections and SQLite share the limit.
        let fileLimit = FileDescriptorLimit.raiseSoftLimitToHardLimit()
        logger.info(
            "connection limits",
            metadata: [
                "file_limit": "\(fileLimit.map(String.init) ?? "unknown")",
                "max_connections": "\(maxConnections(for: configuration.connectionLimits))",
                "read_timeout": "\(configuration.connectionLimits.readTimeout)",
                "idle_timeout": "\(configuration.connectionLimits.idleTimeout)",
            ]
        )
        if let configured = configuration.connectionLimits.maxConnections, let fileLimit,
            configured > FileDescriptorLimit.connectionsAllowed(fileLimit: fileLimit)
        {
            logger.warning(
                "--max-connections lowered to leave a quarter of the open-file limit to the store",
                metadata: [
                    "requested": "\(configured)",
                    "max_connections": "\(maxConnections(for: configuration.connectionLimits))",
                    "file_limit": "\(fileLimit)",
                ]
            )
        }
        let vaultConfiguration = LocalVaultConfiguration(
            dataDirectory: configuration.dataDirectory,
            customerKeys: configuration.customerKeys,
            logger: logger,
            purgeDelay: configuration.purgeDelay,
            // The PurgeService does it, and stops on graceful shutdown.
            purgesInBackground: false,
            recordsEvents: configuration.events.recording
        )
        let vault =
            if let databaseURL = configuration.databaseURL {
                try await LocalVault.open(databaseURL: databaseURL, configuration: vaultConfiguration)
            } else {
                try LocalVault(configuration: vaultConfiguration)
            }
        ServerTransportWarning.logIfPlainHTTPBeyondLoopback(configuration, logger: logger)
        let apiKeys = ReloadableAPIKeys(configuration.apiKeys)
        var services: [any Service] = []
        if let sources = configuration.keySources {
            services.append(
                await ConfigurationReloadService(sources: sources, apiKeys: apiKeys, vault: vault, logger: logger)
            )
        }
        let application = makeApplication(
            vault: vault,
            configuration: configuration,
            apiKeys: apiKeys,
            services: services,
            logger: logger,
            onListening: onListening
        )
        try await application.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        logger.info("stopped")
    }
}
