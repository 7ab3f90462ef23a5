import Foundation
import Hummingbird
import LocalVault
import Logging
import NIOCore
import ServiceLifecycle

/// How `vault serve` runs.
public struct VaultServerConfiguration: Sendable {
    /// The address to bind; loopback unless told otherwise.
    public var host: String
    /// The port to bind; 0 picks a free one.
    public var port: Int
    /// The engine's data folder.
    public var dataDirectory: String
    /// The accepted API keys.
    public var apiKeys: APIKeyRing
    /// Customer-managed keys (BYOK).
    public var customerKeys: [CustomerKeyMapping]
    /// Requests allowed per API key and window.
    public var rateLimit: RateLimit
    /// The largest request body accepted; larger ones get 413.
    public var maxBodySize: Int
    /// How long a deleted object holds its name before it is purged for good (0: at once).
    public var purgeDelay: Duration

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        dataDirectory: String,
        apiKeys: APIKeyRing,
        customerKeys: [CustomerKeyMapping] = [],
        rateLimit: RateLimit = .workOSDefault,
        maxBodySize: Int = 1 << 20,
        purgeDelay: Duration = LocalVaultConfiguration.defaultPurgeDelay
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.apiKeys = apiKeys
        self.customerKeys = customerKeys
        self.rateLimit = rateLimit
        self.maxBodySize = maxBodySize
        self.purgeDelay = purgeDelay
    }

    /// The base URL clients use, for a given bound port.
    public func baseURL(port: Int) -> String {
        let host = host.contains(":") ? "[\(host)]" : host
        return "http://\(host):\(port)"
    }
}

/// The WorkOS Vault REST API over a ``LocalVault``.
public enum VaultServer {
    /// The router with every endpoint and the middleware chain, outermost first: request
    /// logging and error bodies, authentication, rate limiting, the body limit, idempotency.
    public static func makeRouter(
        vault: LocalVault,
        configuration: VaultServerConfiguration
    ) -> Router<VaultRequestContext> {
        let router = Router(context: VaultRequestContext.self)
        // One statically chained stack: each middleware added on its own costs a few more
        // executor hops per request.
        router.addMiddleware {
            RequestLoggingMiddleware()
            AuthenticationMiddleware(keys: configuration.apiKeys)
            RateLimitMiddleware(limiter: RateLimiter(limit: configuration.rateLimit))
            BodyLimitMiddleware(limit: configuration.maxBodySize)
            IdempotencyMiddleware(vault: vault)
        }
        VaultRoutes(endpoints: VaultEndpoints(vault: vault)).register(on: router)
        return router
    }

    /// The application: the router, bound per `configuration`, with the purge service.
    /// - Parameter onListening: called with the base URL once the socket is bound.
    public static func makeApplication(
        vault: LocalVault,
        configuration: VaultServerConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (String) -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var application = Application(
            router: makeRouter(vault: vault, configuration: configuration),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in
                onListening(configuration.baseURL(port: channel.localAddress?.port ?? configuration.port))
            },
            logger: logger
        )
        application.addServices(PurgeService(vault: vault, logger: logger))
        return application
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
        let vault = try LocalVault(
            configuration: LocalVaultConfiguration(
                dataDirectory: configuration.dataDirectory,
                customerKeys: configuration.customerKeys,
                logger: logger,
                purgeDelay: configuration.purgeDelay,
                // The PurgeService does it, and stops on graceful shutdown.
                purgesInBackground: false
            )
        )
        let application = makeApplication(
            vault: vault,
            configuration: configuration,
            logger: logger,
            onListening: onListening
        )
        try await application.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        logger.info("stopped")
    }
}
