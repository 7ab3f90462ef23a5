import Foundation
import Testing
import VaultAPI
import VaultHTTP
import WorkOSVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vault serve --tls-cert --tls-key`: HTTPS that the libcurl client verifies against a CA it
/// is given (and refuses without it), with the connection guard still in front of HTTP.
@Suite(
    "vault serve over TLS",
    .enabled(
        if: (VaultProcess.binary != nil && TestCertificates.hasOpenSSL) || isCI,
        "needs the vault executable (swift build) and openssl (scripts/bootstrap --test-tools)"
    )
)
struct TLSServeTests {
    static let apiKey = "sk_test_tls_0001"

    static func serveTLS(
        in directory: String,
        _ certificates: TestCertificates,
        arguments: [String] = []
    ) async throws -> VaultProcess {
        try await VaultProcess.serve(
            dataDirectory: directory,
            apiKeys: apiKey,
            arguments: ["--tls-cert", certificates.certificateFile, "--tls-key", certificates.keyFile] + arguments
        )
    }

    @Test("https on the first line; the client completes requests given the CA, over HTTP/1.1")
    func verifiedWithTheCA() async throws {
        try await withTemporaryDirectory { directory in
            let certificates = try await TestCertificates.make(in: directory)
            let server = try await Self.serveTLS(in: directory, certificates)
            defer { server.stop() }
            #expect(server.firstLine.hasPrefix("listening on https://127.0.0.1:"), "\(server.firstLine)")
            let port = try #require(server.port)

            let transport = CurlTransport(caFile: certificates.caFile)
            // Both names of the certificate's subjectAltName verify.
            for host in ["127.0.0.1", "localhost"] {
                let response = try await transport.send(
                    TransportRequest(
                        method: .get,
                        url: "https://\(host):\(port)/vault/v1/kv",
                        headers: [("Authorization", "Bearer \(Self.apiKey)")]
                    )
                )
                #expect(response.status == 200)
                // ALPN offers HTTP/1.1 only: the protocol the connection guard watches.
                #expect(response.httpVersion == "1.1")
            }

            let remote = try RemoteConfiguration(
                apiKey: Self.apiKey,
                baseURL: server.baseURL,
                caFile: certificates.caFile
            )
            let vault = try Vault(configuration: VaultConfiguration(backend: .remote(remote)))
            let created = try await vault.createObject(name: "tls-object", value: "over tls", context: ["k": "v"])
            #expect(try await vault.readObject(id: created.id).value == "over tls")
            let blob = try await vault.encrypt("plaintext", context: ["organization_id": "org_tls"])
            #expect(try await vault.decrypt(blob) == "plaintext")
            #expect(!server.standardError.contains("plain HTTP"))

            // SIGTERM still stops it gracefully, the reload service included.
            server.signal(SIGTERM)
            let ended = try await server.waitForExit(timeout: .seconds(20))
            #expect(ended?.reason == .exit && ended?.status == 0)
        }
    }

    @Test("without the CA the certificate is not verified: a typed error, no request made")
    func unverifiedWithoutTheCA() async throws {
        try await withTemporaryDirectory { directory in
            let certificates = try await TestCertificates.make(in: directory)
            let server = try await Self.serveTLS(in: directory, certificates)
            defer { server.stop() }

            let error = await #expect(throws: HTTPTransportError.self) {
                _ = try await CurlTransport().send(TransportRequest(method: .get, url: server.baseURL + "/vault/v1/kv"))
            }
            #expect(error?.kind == .certificate, "\(String(describing: error))")

            // Another CA's file: still refused.
            let other = try await TestCertificates.make(in: directory + "/other")
            let otherError = await #expect(throws: HTTPTransportError.self) {
                _ = try await CurlTransport(caFile: other.caFile).send(
                    TransportRequest(method: .get, url: server.baseURL + "/vault/v1/kv")
                )
            }
            #expect(otherError?.kind == .certificate)

            let remote = try RemoteConfiguration(apiKey: Self.apiKey, baseURL: server.baseURL)
            let vault = try Vault(configuration: VaultConfiguration(backend: .remote(remote)))
            let started = ContinuousClock.now
            let vaultError = await #expect(throws: VaultError.self) {
                _ = try await vault.createObject(name: "never", value: "sent", context: ["k": "v"])
            }
            #expect(vaultError?.code == .certificateVerification)
            // Not retried with backoff: a certificate does not get better by asking again.
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(!server.standardError.contains("\"never\""))
        }
    }

    @Test("the vault CLI trusts --ca-file or $CURL_CA_BUNDLE, and nothing else it is not told to")
    func cliCAFile() async throws {
        try await withTemporaryDirectory { directory in
            let certificates = try await TestCertificates.make(in: directory)
            let server = try await Self.serveTLS(in: directory, certificates)
            defer { server.stop() }
            let client = ["WORKOS_API_KEY": Self.apiKey, "WORKOS_BASE_URL": server.baseURL]
            let unverified = try await VaultProcess.run(["kv", "list"], environment: client)
            #expect(unverified.status == 5)
            #expect(unverified.error.contains("certificate"), "\(unverified.error)")
            let withFlag = try await VaultProcess.run(
                ["kv", "list", "--ca-file", certificates.caFile],
                environment: client
            )
            #expect(withFlag.status == 0, "\(withFlag.error)")
            let withVariable = try await VaultProcess.run(
                ["kv", "list"],
                environment: client.merging(["CURL_CA_BUNDLE": certificates.caFile]) { _, new in new }
            )
            #expect(withVariable.status == 0, "\(withVariable.error)")
            // The embedded store has no server to verify: the flag is a mistake there.
            let embedded = try await VaultProcess.run(
                ["kv", "list", "--ca-file", certificates.caFile],
                environment: ["VAULT_HOME": directory + "/home", "WORKOS_API_KEY": "", "WORKOS_BASE_URL": ""]
            )
            #expect(embedded.status == 1)
            #expect(embedded.error.contains("--ca-file is for a server"))
        }
    }

    @Test("TLS 1.2 and 1.3 are accepted, TLS 1.1 is refused")
    func minimumVersion() async throws {
        try await withTemporaryDirectory { directory in
            let certificates = try await TestCertificates.make(in: directory)
            let server = try await Self.serveTLS(in: directory, certificates)
            defer { server.stop() }
            let port = try #require(server.port)
            func handshake(_ version: String) async -> Bool {
                let arguments = [
                    "s_client", "-connect", "127.0.0.1:\(port)", version, "-CAfile", certificates.caFile,
                    "-verify_return_error", "-cipher", "DEFAULT@SECLEVEL=0",
                ]
                return (try? await TestCertificates.openssl(arguments)) != nil
            }
            #expect(await handshake("-tls1_2"))
            #expect(await handshake("-tls1_3"))
            #expect(await !handshake("-tls1_1"))
        }
    }

    @Test("the connection guard stays: a connection that never starts its handshake is closed when idle")
    func guardKept() async throws {
        try await withTemporaryDirectory { directory in
            let certificates = try await TestCertificates.make(in: directory)
            let server = try await Self.serveTLS(in: directory, certificates, arguments: ["--idle-timeout", "1"])
            defer { server.stop() }
            let socket = try await RawSocket.connect(port: try #require(server.port), timeout: .seconds(15))
            let started = ContinuousClock.now
            let (bytes, closed) = await socket.receive()
            #expect(closed)
            #expect(bytes.isEmpty)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test("unusable TLS files are refused at start, as other bad configuration files are")
    func badFiles() async throws {
        try await withTemporaryDirectory { directory in
            let certificates = try await TestCertificates.make(in: directory)
            let garbage = directory + "/garbage.pem"
            try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: garbage))
            let environment = ["VAULT_API_KEYS": Self.apiKey]
            func serve(_ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
                try await VaultProcess.run(
                    ["serve", "--port", "0", "--data-dir", directory + "/data"] + arguments,
                    environment: environment
                )
            }
            // The exit status of another unusable configuration file.
            let badCustomerKeys = try await serve(["--customer-keys", garbage])
            #expect(badCustomerKeys.status != 0)

            let cases: [(arguments: [String], message: String)] = [
                (["--tls-cert", certificates.certificateFile], "--tls-cert and --tls-key go together"),
                (["--tls-key", certificates.keyFile], "--tls-cert and --tls-key go together"),
                (
                    ["--tls-cert", directory + "/missing.pem", "--tls-key", certificates.keyFile],
                    "cannot read the TLS certificate file \(directory)/missing.pem"
                ),
                (
                    ["--tls-cert", garbage, "--tls-key", certificates.keyFile],
                    "the TLS certificate file \(garbage) is not a PEM certificate"
                ),
                (
                    ["--tls-cert", certificates.certificateFile, "--tls-key", certificates.certificateFile],
                    "is not a PEM private key"
                ),
                (
                    ["--tls-cert", certificates.certificateFile, "--tls-key", certificates.otherKeyFile],
                    "does not match the certificate"
                ),
            ]
            let keyText = try String(contentsOfFile: certificates.otherKeyFile, encoding: .utf8)
            let keyBody = keyText.split(separator: "\n").dropFirst().first.map(String.init) ?? "-"
            for (arguments, message) in cases {
                let result = try await serve(arguments)
                #expect(result.status == badCustomerKeys.status, "\(arguments)")
                #expect(result.error.contains(message), "\(arguments): \(result.error)")
                #expect(!result.output.contains("listening"))
                #expect(!result.error.contains(keyBody))
            }
        }
    }

    @Test("plain HTTP on an address other than loopback is served with a warning; on loopback without")
    func plainHTTPWarning() async throws {
        try await withTemporaryDirectory { directory in
            for folder in ["exposed", "local"] {
                try FileManager.default.createDirectory(
                    atPath: directory + "/" + folder,
                    withIntermediateDirectories: true
                )
            }
            let exposed = try await VaultProcess.serve(
                dataDirectory: directory + "/exposed",
                apiKeys: Self.apiKey,
                arguments: ["--host", "0.0.0.0"]
            )
            defer { exposed.stop() }
            #expect(exposed.firstLine.hasPrefix("listening on http://0.0.0.0:"))
            #expect(exposed.standardError.contains("serving plain HTTP on a non-loopback address"))
            #expect(!exposed.standardError.contains(Self.apiKey))
            exposed.stop()

            let local = try await VaultProcess.serve(dataDirectory: directory + "/local", apiKeys: Self.apiKey)
            defer { local.stop() }
            #expect(!local.standardError.contains("plain HTTP"))
        }
    }
}
