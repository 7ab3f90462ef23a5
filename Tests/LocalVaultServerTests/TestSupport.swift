import Foundation
import Hummingbird
import HummingbirdTesting
import LocalVault
import Logging
import Testing
import VaultAPI

@testable import LocalVaultServer

/// A header name (Hummingbird re-exports `HTTPFields`, not `HTTPField`).
typealias HeaderName = HTTPFields.Element.Name

enum TestKeys {
    /// A key of the default environment.
    static let primary = "sk_test_primary_0001"
    /// Another key of the default environment.
    static let secondary = "sk_test_secondary_0002"
    /// A key of another environment.
    static let staging = "sk_test_staging_0003"

    static let entries = [
        APIKeyRing.Entry(primary, origin: "test"),
        APIKeyRing.Entry(secondary, origin: "test"),
        APIKeyRing.Entry("environment_staging:\(staging)", origin: "test"),
    ]
}

/// A fresh folder under the system's temporary folder, removed when done.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("vault-server-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// A vault in a temporary folder behind the full router.
struct VaultHarness {
    let vault: LocalVault
    let configuration: VaultServerConfiguration

    /// Runs `body` against a fresh vault and application.
    static func run<T: Sendable>(
        _ setup: TestingSetup = .router,
        rateLimit: RateLimit = .workOSDefault,
        maxBodySize: Int = 1 << 20,
        recordsEvents: Bool = false,
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ body: @Sendable (VaultHarness, any TestClientProtocol) async throws -> T
    ) async throws -> T {
        try await withTemporaryDirectory { directory in
            let configuration = VaultServerConfiguration(
                port: 0,
                dataDirectory: directory,
                apiKeys: try APIKeyRing(entries: TestKeys.entries),
                rateLimit: rateLimit,
                maxBodySize: maxBodySize
            )
            let vault = try LocalVault(
                configuration: LocalVaultConfiguration(
                    dataDirectory: directory,
                    rootKey: .file((directory as NSString).appendingPathComponent("root.key")),
                    recordsEvents: recordsEvents
                )
            )
            let harness = VaultHarness(vault: vault, configuration: configuration)
            let application = Application(
                router: VaultServer.makeRouter(vault: vault, configuration: configuration),
                logger: logger
            )
            return try await application.test(setup) { client in try await body(harness, client) }
        }
    }
}

extension TestClientProtocol {
    /// Sends a request with `Authorization: Bearer key` (none when `key` is nil).
    @discardableResult
    func send(
        _ method: HTTPRequest.Method,
        _ uri: String,
        json: String? = nil,
        key: String? = TestKeys.primary,
        headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = headers
        if let key { headers[.authorization] = "Bearer \(key)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await executeRequest(
            uri: uri,
            method: method,
            headers: headers,
            body: json.map { ByteBuffer(string: $0) }
        )
    }

    /// Sends a request and decodes a successful JSON answer.
    func sendExpecting<T: Decodable>(
        _ type: T.Type,
        status: HTTPResponse.Status = .ok,
        _ method: HTTPRequest.Method,
        _ uri: String,
        json: String? = nil,
        key: String? = TestKeys.primary,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> T {
        let response = try await send(method, uri, json: json, key: key)
        #expect(response.status == status, "\(String(buffer: response.body))", sourceLocation: sourceLocation)
        return try response.decode(T.self)
    }

    /// Creates an object and returns its metadata.
    func createObject(
        name: String,
        value: String = "secret value",
        context: [String: String] = ["organization_id": "org_test"],
        key: String = TestKeys.primary
    ) async throws -> ObjectMetadata {
        let body = try jsonString(CreateObjectRequest(name: name, value: value, keyContext: KeyContext(context)))
        return try await sendExpecting(
            ObjectMetadata.self,
            status: .created,
            .post,
            "/vault/v1/kv",
            json: body,
            key: key
        )
    }
}

extension TestResponse {
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try VaultJSON.decoder().decode(T.self, from: Data(body.readableBytesView))
    }

    /// The error body, checked to carry `error`, `message` and `code`.
    func errorBody(sourceLocation: SourceLocation = #_sourceLocation) throws -> ErrorBody {
        #expect(headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        let body = try decode(ErrorBody.self)
        #expect(body.error != nil && body.message != nil && body.code != nil, sourceLocation: sourceLocation)
        return body
    }

    var text: String { String(buffer: body) }
}

func jsonString(_ value: some Encodable) throws -> String {
    String(decoding: try VaultJSON.encoder().encode(value), as: UTF8.self)
}

/// Percent-encodes one path segment as the SDKs do (`quote(segment, safe="")`).
func encodeSegment(_ segment: String) -> String {
    let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
}
