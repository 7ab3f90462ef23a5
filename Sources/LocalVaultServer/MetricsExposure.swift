import CoreMetrics
import Prometheus

/// How `vault serve` exposes Prometheus metrics (`GET /metrics`, text format 0.0.4).
///
/// Served without authentication (scrapers carry no API key): on the main listener, or with
/// ``port`` on a listener of its own bound to 127.0.0.1 only. The metrics hold route
/// templates, methods, statuses, durations and counts, never a name, id, context or key.
public struct MetricsExposure: Sendable {
    /// Where every metric of the process is kept, and what `/metrics` renders.
    public var registry: PrometheusCollectorRegistry
    /// A port for a loopback-only listener that serves `/metrics` alone (0 picks one); nil: the
    /// main listener serves it.
    public var port: Int?

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), port: Int? = nil) {
        self.registry = registry
        self.port = port
    }

    /// The swift-metrics factory over ``registry``, with request-duration buckets fit for
    /// sub-millisecond requests. `vault serve` bootstraps `MetricsSystem` with it, so that the
    /// engine's counters land in the same registry.
    public var factory: PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[HTTPMetrics.durationLabel] = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .milliseconds(2_500), .seconds(5), .seconds(10),
        ]
        return factory
    }

    /// The listener's address, for logs.
    static let host = "127.0.0.1"
}

/// Requests by method, route template (never the raw path, which holds names and ids) and
/// status, and their durations by method and route.
struct HTTPMetrics: Sendable {
    static let countLabel = "vault_http_requests_total"
    static let durationLabel = "vault_http_request_duration_seconds"

    let factory: any MetricsFactory

    func record(method: String, route: String, status: Int, elapsed: Duration) {
        let method = Self.knownMethods.contains(method) ? method : "other"
        Counter(
            label: Self.countLabel,
            dimensions: [("method", method), ("route", route), ("status", String(status))],
            factory: factory
        ).increment()
        Timer(label: Self.durationLabel, dimensions: [("method", method), ("route", route)], factory: factory)
            .recordNanoseconds(
                elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
            )
    }

    /// Methods kept as they are; any other (a client may send any token) is `other`, so that
    /// requests cannot add series without bound.
    private static let knownMethods: Set<String> = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
}
