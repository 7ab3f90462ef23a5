import Testing
import WorkOSVault

@testable import LocalVaultServer

/// Which addresses count as this machine only (no warning for plain HTTP), and where the client
/// finds its CA file.
@Suite("Transport settings")
struct ServerTransportWarningTests {
    @Test(
        "loopback names and addresses",
        arguments: ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]"]
    )
    func loopback(host: String) {
        #expect(ServerTransportWarning.isLoopback(host: host))
    }

    @Test(
        "everything else is beyond loopback",
        arguments: [
            "0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "127.0.0", "127.0.0.256", "localhost.example.com", "vault",
        ]
    )
    func notLoopback(host: String) {
        #expect(!ServerTransportWarning.isLoopback(host: host))
    }

    @Test("the base URL without TLS: http, IPv6 in brackets")
    func baseURL() throws {
        var configuration = VaultServerConfiguration(
            host: "::1",
            dataDirectory: "/nonexistent",
            apiKeys: try APIKeyRing(entries: [APIKeyRing.Entry("sk_test_url", origin: "test")])
        )
        #expect(configuration.baseURL(port: 8443) == "http://[::1]:8443")
        configuration.host = "127.0.0.1"
        #expect(configuration.baseURL(port: 1) == "http://127.0.0.1:1")
    }

    @Test("CURL_CA_BUNDLE names the client's CA file; empty or unset, the system's bundle")
    func caFileFromEnvironment() throws {
        let base = ["WORKOS_API_KEY": "sk_test_env", "WORKOS_BASE_URL": "https://vault.internal:8443"]
        func caFile(_ environment: [String: String]) throws -> String? {
            guard case .remote(let remote) = try VaultConfiguration.fromEnvironment(environment).backend else {
                Issue.record("not the remote backend")
                return nil
            }
            return remote.caFile
        }
        #expect(
            try caFile(base.merging(["CURL_CA_BUNDLE": "/etc/vault/ca.pem"]) { _, new in new }) == "/etc/vault/ca.pem"
        )
        #expect(try caFile(base.merging(["CURL_CA_BUNDLE": ""]) { _, new in new }) == nil)
        #expect(try caFile(base) == nil)
        // Alone it selects no server.
        guard case .embedded = try VaultConfiguration.fromEnvironment(["CURL_CA_BUNDLE": "/etc/vault/ca.pem"]).backend
        else {
            Issue.record("CURL_CA_BUNDLE alone selected a server")
            return
        }
    }
}
