import Foundation
import Hummingbird
import HummingbirdTesting
import LocalVault
import Logging
import Testing

@testable import LocalVaultServer

/// The application of `vault serve` (`VaultServer.makeApplication`: timeouts, connection cap,
/// parser-error answers) over a fresh vault, listening on 127.0.0.1 on a free port.
enum GuardedServer {
    static let silentLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs `body` with the server's port.
    static func run<T: Sendable>(
        limits: ConnectionLimits = .default,
        logger: Logger = silentLogger,
        _ body: @Sendable (_ port: Int) async throws -> T
    ) async throws -> T {
        try await withTemporaryDirectory { directory in
            let configuration = VaultServerConfiguration(
                port: 0,
                dataDirectory: directory,
                apiKeys: try APIKeyRing(entries: TestKeys.entries),
                connectionLimits: limits
            )
            let vault = try LocalVault(
                configuration: LocalVaultConfiguration(
                    dataDirectory: directory,
                    rootKey: .file((directory as NSString).appendingPathComponent("root.key"))
                )
            )
            let application = VaultServer.makeApplication(vault: vault, configuration: configuration, logger: logger)
            return try await application.test(.live) { client in try await body(try #require(client.port)) }
        }
    }

    /// An authenticated `GET /vault/v1/kv` on a connection of its own.
    static func listObjects(port: Int, timeout: Duration = .seconds(20)) async throws -> RawResponse? {
        let socket = try await RawSocket.connect(port: port, timeout: timeout)
        defer { socket.close() }
        await socket.send(
            Array(
                "GET /vault/v1/kv HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestKeys.primary)\r\n\r\n".utf8
            )
        )
        return RawResponse(await socket.receive(until: RawResponse.isComplete).bytes)
    }
}
