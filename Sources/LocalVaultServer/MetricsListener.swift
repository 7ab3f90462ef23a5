import Hummingbird
import Logging
import ServiceLifecycle

extension MetricsExposure {
    /// The loopback listener that serves `/metrics` alone on ``port``, run beside the main one
    /// (and stopped with it); it logs its URL once bound.
    func listener(logger: Logger) -> some Service {
        let router = Router(context: VaultRequestContext.self)
        let group = router.group().add(middleware: RequestLoggingMiddleware(metrics: HTTPMetrics(factory: factory)))
        OperationsRoutes.registerMetrics(registry, on: group)
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(Self.host, port: port ?? 0)),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port ?? 0
                logger.info("metrics listening on http://\(Self.host):\(bound)/metrics")
            },
            logger: logger
        )
    }
}
