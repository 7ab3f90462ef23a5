import Foundation
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
    static let hasOpenSSL: Bool = (try? openssl(["version"], in: FileManager.default.temporaryDirectory.path)) != nil

    /// Makes the files in `directory`.
    static func make(in directory: String) throws -> TestCertificates {
        let folder = (directory as NSString).appendingPathComponent("tls")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(
            ["req", "-x509"] + curve + [
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=vault-test-ca",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            ],
            in: folder
        )
        try openssl(
            ["req"] + curve + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
            in: folder
        )
        try Data(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".utf8
        )
        .write(to: URL(fileURLWithPath: folder).appendingPathComponent("server.ext"))
        try openssl(
            [
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
            ],
            in: folder
        )
        try openssl(
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key"],
            in: folder
        )
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        return TestCertificates(
            caFile: path("ca.pem"),
            certificateFile: path("server.pem"),
            keyFile: path("server.key"),
            otherKeyFile: path("other.key")
        )
    }

    /// Runs `openssl` in `folder`; its output is discarded.
    /// - Returns: whether it exited 0 (throws if it did not).
    @discardableResult
    static func openssl(_ arguments: [String], in folder: String, input: Data? = nil) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestCertificatesError.opensslFailed(arguments.first ?? "", process.terminationStatus)
        }
        return true
    }
}

enum TestCertificatesError: Error {
    case opensslFailed(String, Int32)
}
