import Foundation
import TestProcesses
import Testing

/// A throwaway certificate authority and a server certificate it signed (SAN 127.0.0.1 and
/// localhost), made with the `openssl` command line in a test's temporary folder; plus a key
/// that belongs to neither.
struct TestCertificates {
    let caFile: String
    let certificateFile: String
    let keyFile: String
    let otherKeyFile: String

    /// Whether the `openssl` command line runs here (scripts/bootstrap --test-tools installs it).
    static let hasOpenSSL: Bool = (try? ChildProcess.runBlocking("/usr/bin/env", ["openssl", "version"]))?.status == 0

    /// Makes the files in `directory`.
    static func make(in directory: String) async throws -> TestCertificates {
        let folder = (directory as NSString).appendingPathComponent("tls")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try await openssl(
            ["req", "-x509"] + curve + [
                "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=vault-test-ca",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            ]
        )
        try await openssl(
            ["req"] + curve + ["-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=localhost"]
        )
        try Data(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".utf8
        )
        .write(to: URL(fileURLWithPath: path("server.ext")))
        try await openssl(
            [
                "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                "-CAcreateserial",
                "-out", path("server.pem"), "-days", "2", "-extfile", path("server.ext"),
            ])
        try await openssl(
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("other.key")])
        return TestCertificates(
            caFile: path("ca.pem"),
            certificateFile: path("server.pem"),
            keyFile: path("server.key"),
            otherKeyFile: path("other.key")
        )
    }

    /// Runs `openssl` (paths in `arguments` are absolute); its output is discarded.
    /// - Returns: whether it exited 0 (throws if it did not).
    @discardableResult
    static func openssl(_ arguments: [String], input: Data = Data()) async throws -> Bool {
        let finished = try await ChildProcess.run("/usr/bin/env", ["openssl"] + arguments, input: input)
        guard finished.status == 0 else {
            throw TestCertificatesError.opensslFailed(arguments.first ?? "", finished.status)
        }
        return true
    }
}

enum TestCertificatesError: Error {
    case opensslFailed(String, Int32)
}
