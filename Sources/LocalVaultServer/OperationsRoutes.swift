import Hummingbird
import NIOCore
import Prometheus

/// The routes for operators, outside the API's authentication and rate limit: `GET /health`
/// (for load balancers and orchestrators) and, when enabled, `GET /metrics` (for Prometheus).
/// They are logged and counted like every request.
struct OperationsRoutes {
    let health: StoreHealth
    /// The registry `/metrics` renders; nil: no `/metrics` route here.
    let metrics: PrometheusCollectorRegistry?
    let logging: RequestLoggingMiddleware

    /// `{"status":"ok"}` or `{"status":"unavailable"}`: nothing about the version, the store or
    /// the failure, which would help an attacker more than an operator (the log has the cause).
    static let available = ByteBuffer(string: #"{"status":"ok"}"#)
    static let unavailable = ByteBuffer(string: #"{"status":"unavailable"}"#)

    /// Registers the routes; call it before the router's API middleware is added, which would
    /// otherwise wrap them too.
    func register(on router: Router<VaultRequestContext>) {
        let group = router.group().add(middleware: logging)
        let health = self.health
        group.get("health") { _, _ in
            let isAvailable = await health.isAvailable()
            var response = JSONResponse.make(
                bytes: isAvailable ? Self.available : Self.unavailable,
                status: isAvailable ? .ok : .serviceUnavailable
            )
            response.headers[.cacheControl] = "no-store"
            return response
        }
        if let metrics { Self.registerMetrics(metrics, on: group) }
    }

    /// `GET /metrics` on `group`, in Prometheus's text format.
    static func registerMetrics(_ registry: PrometheusCollectorRegistry, on group: RouterGroup<VaultRequestContext>) {
        group.get("metrics") { _, _ in
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
    }
}
