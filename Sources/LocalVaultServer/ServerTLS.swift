import Foundation
import NIOSSL

/// The TLS settings of `vault serve`: a certificate chain and its private key, read from PEM
/// files at start. TLS 1.2 is the minimum; ALPN offers HTTP/1.1 only, the protocol whose
/// connections ``ConnectionGuardHandler`` guards (read and idle timeouts, the connection cap).
public struct ServerTLS: Sendable {
    /// The server configuration handed to swift-nio-ssl.
    public let configuration: TLSConfiguration
    /// The certificate file, for logs.
    public let certificateFile: String

    /// Reads and checks the files: the certificate file holds one or more PEM certificates (the
    /// server's first, then any intermediates), the key file the PEM private key that matches
    /// the first.
    /// - Throws: ``ServerTLSError`` naming the file at fault, never its contents.
    public init(certificateFile: String, keyFile: String) throws(ServerTLSError) {
        for (path, what) in [(certificateFile, "certificate"), (keyFile, "key")] {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ServerTLSError("cannot read the TLS \(what) file \(path)")
            }
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw ServerTLSError("the TLS certificate file \(certificateFile) is not a PEM certificate")
        }
        guard !chain.isEmpty else {
            throw ServerTLSError("the TLS certificate file \(certificateFile) holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw ServerTLSError("the TLS key file \(keyFile) is not a PEM private key (or is encrypted)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        // BoringSSL checks here that the key belongs to the first certificate.
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ServerTLSError(
                "the TLS key file \(keyFile) does not match the certificate in \(certificateFile)"
            )
        }
        self.configuration = configuration
        self.certificateFile = certificateFile
    }
}

/// TLS files that cannot be used. The message names the file, never its contents.
public struct ServerTLSError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
