import Foundation
import Testing

@testable import LocalVaultServer

/// `GET /metrics` on `vault serve` processes: off by default, on the main port with
/// `--metrics`, on a loopback port of its own with `--metrics-port`.
@Suite(.enabled(if: VaultProcess.binary != nil || isCI, "the vault executable is not built (swift build)"))
struct MetricsProcessTests {
    static let key = "sk_test_metrics_0001"

    @Test("counters move with requests; routes are templates, never names or ids")
    func countersMove() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await VaultProcess.serve(
                dataDirectory: directory,
                apiKeys: Self.key,
                arguments: ["--metrics"]
            )
            defer { server.stop() }
            let port = try #require(server.port)
            let created = try await liveRequest(
                port: port,
                .post,
                "/vault/v1/kv",
                key: Self.key,
                json: #"{"name": "metrics-secret-name", "value": "v", "key_context": {"org": "org_secret_ctx"}}"#
            )
            #expect(created.status == 201)
            let id = try #require(
                (try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])?["id"] as? String
            )
            #expect(try await liveRequest(port: port, .get, "/vault/v1/kv/\(id)", key: Self.key).status == 200)
            #expect(
                try await liveRequest(port: port, .get, "/vault/v1/kv/name/metrics-secret-name", key: Self.key).status
                    == 200
            )
            let dataKey = #"{"context": {"organization_id": "org_data_key_ctx"}}"#
            for _ in 0..<2 {
                #expect(
                    try await liveRequest(port: port, .post, "/vault/v1/keys/data-key", key: Self.key, json: dataKey)
                        .status == 200
                )
            }

            let scrape = try await liveRequest(port: port, .get, "/metrics")
            #expect(scrape.status == 200)
            #expect(scrape.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = scrape.body
            let requests = "vault_http_requests_total"
            #expect(Self.sample(text, requests, ["method": "POST", "route": "/vault/v1/kv", "status": "201"]) == 1)
            #expect(Self.sample(text, requests, ["method": "GET", "route": "/vault/v1/kv/{id}", "status": "200"]) == 1)
            #expect(
                Self.sample(text, requests, ["method": "GET", "route": "/vault/v1/kv/name/{name}", "status": "200"])
                    == 1
            )
            #expect(
                Self.sample(text, requests, ["method": "POST", "route": "/vault/v1/keys/data-key", "status": "200"])
                    == 2
            )
            let durations = "vault_http_request_duration_seconds_count"
            #expect(Self.sample(text, durations, ["method": "POST", "route": "/vault/v1/keys/data-key"]) == 2)
            // The object's value has a data key of its own, as each data-key request gets one.
            #expect(Self.sample(text, "vault_data_keys_issued_total") == 3)
            // One KEK per context pair: the object's and the data keys'.
            #expect(Self.sample(text, "vault_keks_created_total", ["reason": "first"]) == 2)
            #expect((Self.sample(text, "vault_kek_cache_misses_total") ?? 0) >= 2)
            #expect((Self.sample(text, "vault_kek_cache_hits_total") ?? 0) >= 1)
            for secret in [id, "metrics-secret-name", "org_secret_ctx", "org_data_key_ctx", Self.key] {
                #expect(!text.contains(secret), "the metrics hold \(secret)")
            }

            // The counters move: one more data key, and the first scrape is counted.
            _ = try await liveRequest(port: port, .post, "/vault/v1/keys/data-key", key: Self.key, json: dataKey)
            let again = try await liveRequest(port: port, .get, "/metrics").body
            #expect(Self.sample(again, "vault_data_keys_issued_total") == 4)
            #expect(
                Self.sample(again, requests, ["method": "POST", "route": "/vault/v1/keys/data-key", "status": "200"])
                    == 3
            )
            #expect(Self.sample(again, requests, ["method": "GET", "route": "/metrics", "status": "200"]) == 1)
        }
    }

    @Test("without --metrics, /metrics is a 404 for a key and a 401 without one, like any unknown path")
    func offByDefault() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await VaultProcess.serve(dataDirectory: directory, apiKeys: Self.key)
            defer { server.stop() }
            let port = try #require(server.port)
            #expect(try await liveRequest(port: port, .get, "/metrics", key: Self.key).status == 404)
            #expect(try await liveRequest(port: port, .get, "/metrics").status == 401)
            #expect(try await liveRequest(port: port, .get, "/health").status == 200)
        }
    }

    @Test("--metrics-port serves /metrics on a loopback listener of its own, not on the main port")
    func separatePort() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await VaultProcess.serve(
                dataDirectory: directory,
                apiKeys: Self.key,
                arguments: ["--metrics-port", "0"]
            )
            defer { server.stop() }
            let port = try #require(server.port)
            var metricsPort: Int?
            #expect(
                try await eventually {
                    let match = server.standardError.firstMatch(
                        of: #/metrics listening on http://127\.0\.0\.1:(\d+)/metrics/#
                    )
                    metricsPort = match.flatMap { Int($0.1) }
                    return metricsPort != nil
                }
            )
            let metrics = try #require(metricsPort)
            #expect(metrics != port)
            #expect(try await liveRequest(port: port, .get, "/vault/v1/kv", key: Self.key).status == 200)
            let scrape = try await liveRequest(port: metrics, .get, "/metrics")
            #expect(scrape.status == 200)
            #expect(
                Self.sample(
                    scrape.body,
                    "vault_http_requests_total",
                    ["method": "GET", "route": "/vault/v1/kv", "status": "200"]
                ) == 1
            )
            #expect(try await liveRequest(port: port, .get, "/metrics", key: Self.key).status == 404)
            #expect(try await liveRequest(port: metrics, .get, "/vault/v1/kv", key: Self.key).status == 404)
        }
    }

    /// The value of the sample `name{labels}` in Prometheus text (labels in any order).
    static func sample(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let series = line[..<space]
            let value = Double(line[line.index(after: space)...])
            if labels.isEmpty {
                if series == name { return value }
                continue
            }
            guard series.hasPrefix(name + "{"), series.hasSuffix("}") else { continue }
            let inner = series.dropFirst(name.count + 1).dropLast()
            var found: [String: String] = [:]
            for pair in inner.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                found[String(parts[0])] = String(parts[1].dropFirst().dropLast())
            }
            if found == labels { return value }
        }
        return nil
    }
}
