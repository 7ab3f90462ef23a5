import ArgumentParser
import LocalVaultServer
import Metrics

/// The options of `vault serve` for operating it: the log format and Prometheus metrics.
struct ServeOperationsOptions: ParsableArguments {
    @Option(name: .customLong("log-format"), help: "text (the default) or json: one JSON object per line.")
    var logFormat: LogFormat = .text

    @Flag(
        name: .customLong("metrics"),
        help: "Serve Prometheus metrics at GET /metrics on the main port, without authentication."
    )
    var metrics = false

    @Option(
        name: .customLong("metrics-port"),
        help: "Serve GET /metrics on 127.0.0.1:PORT instead of the main port (implies --metrics)."
    )
    var metricsPort: Int?

    func validate() throws {
        if let metricsPort, !(0...65_535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be 0 to 65535")
        }
    }

    /// The metrics to expose, with `MetricsSystem` bootstrapped on their registry (once, before
    /// the vault opens: counters made earlier would stay no-ops); nil without `--metrics`.
    func bootstrapMetrics() -> MetricsExposure? {
        guard metrics || metricsPort != nil else { return nil }
        let exposure = MetricsExposure(port: metricsPort)
        MetricsSystem.bootstrap(exposure.factory)
        return exposure
    }
}

extension LogFormat: ExpressibleByArgument {}
