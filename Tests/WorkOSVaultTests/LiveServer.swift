import Foundation
import Hummingbird
import HummingbirdTesting
import LocalVault
import LocalVaultServer
import Logging
import Synchronization
import TestProcesses
import Testing
import VaultHTTP
import WorkOSVault

/// `vault serve` in this process on 127.0.0.1, port 0, over a fresh data folder, with a client
/// pointed at it through the real libcurl transport.
enum LiveServer {
    static let apiKey = "sk_test_live_client_0001"

    struct Context: Sendable {
        let baseURL: String
        let vault: Vault
        let transport: CurlTransport
    }

    static func run(
        clientLogger: Logger? = nil,
        serverLogger: Logger = Logger(label: "server", factory: { _ in SwiftLogNoOpLogHandler() }),
        purgeDelay: Duration = LocalVaultConfiguration.defaultPurgeDelay,
        _ body: @Sendable (Context) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vault-live-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = VaultServerConfiguration(
            port: 0,
            dataDirectory: directory,
            apiKeys: try APIKeyRing(entries: [APIKeyRing.Entry(apiKey, origin: "test")])
        )
        let engine = try LocalVault(
            configuration: LocalVaultConfiguration(dataDirectory: directory, purgeDelay: purgeDelay)
        )
        let application = Application(
            router: VaultServer.makeRouter(vault: engine, configuration: configuration),
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            logger: serverLogger
        )
        try await application.test(.live) { client in
            let baseURL = "http://127.0.0.1:\(try #require(client.port))"
            let transport = CurlTransport()
            let remote = try RemoteConfiguration(
                apiKey: apiKey,
                baseURL: baseURL,
                requestTimeout: .seconds(20),
                retry: RetryPolicy(maxRetries: 1, baseDelay: .milliseconds(10))
            )
            let rest = VaultRESTClient(configuration: remote, transport: transport)
            let vault = Vault(resolver: RemoteKEKResolver(client: rest), objects: rest, logger: clientLogger)
            try await body(Context(baseURL: baseURL, vault: vault, transport: transport))
        }
    }
}

/// A log handler that keeps every rendered line in memory, for redaction tests.
struct RecordingLogHandler: LogHandler {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: String { lines.withLock { $0.joined(separator: "\n") } }
    }

    let lines: Lines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        lines.lines.withLock { $0.append("\(event.level) \(event.message) \(merged) \(event.source)") }
    }
}

/// Runs the official WorkOS Python SDK. With `CI=true` a missing python3 or `workos` package is a
/// failure; elsewhere the caller skips.
enum PythonSDK {
    static var isAvailable: Bool {
        (try? ChildProcess.runBlocking("/usr/bin/env", ["python3", "-c", "import workos"]))?.status == 0
    }

    static var shouldRun: Bool { isAvailable || ProcessInfo.processInfo.environment["CI"] == "true" }

    static func run(
        _ arguments: [String],
        input: Data,
        environment: [String: String]
    ) async throws -> (status: Int32, output: Data, error: String) {
        let finished = try await ChildProcess.run(
            "/usr/bin/env",
            ["python3"] + arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new },
            input: input
        )
        return (finished.status, finished.output, finished.error)
    }

    static var interopFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            "Interop"
        )
    }
}
