import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// What a contract double does to the next request of one kind instead of answering normally.
enum Fault: Sendable {
    /// Answers with this status and the service's own error body for it.
    case status(Int)
    /// Waits this long, then answers normally (past the client's timeout: a timeout).
    case delay(Duration)
}

/// Faults queued for one endpoint of a double, taken one per request.
final class FaultQueue: Sendable {
    private let faults = Mutex<[Fault]>([])

    func push(_ fault: Fault, times: Int = 1) {
        faults.withLock { $0 += Array(repeating: fault, count: times) }
    }

    func next() -> Fault? {
        faults.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    }
}

/// Runs a contract double's router in this process on 127.0.0.1, port 0, for the duration of `body`.
enum ContractServer {
    static func run(
        _ router: Router<BasicRequestContext>,
        _ body: @Sendable (_ baseURL: String) async throws -> Void
    ) async throws {
        let application = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            logger: Logger(label: "contract-double", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        try await application.test(.live) { client in
            try await body("http://127.0.0.1:\(try #require(client.port))")
        }
    }

    static func json(_ status: Int, _ object: [String: Any], headers: HTTPFields = [:]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(
            status: HTTPResponse.Status(code: status),
            headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    static func body(of request: Request, context: BasicRequestContext) async throws -> [UInt8] {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        return Array(buffer.readableBytesView)
    }

    /// The fields of an `application/x-www-form-urlencoded` body.
    static func form(_ bytes: [UInt8]) -> [String: String] {
        let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "+", with: "%20")
        var components = URLComponents()
        components.percentEncodedQuery = text
        var fields: [String: String] = [:]
        for item in components.queryItems ?? [] { fields[item.name] = item.value ?? "" }
        return fields
    }

    /// The token of an `Authorization: Bearer` header.
    static func bearer(_ request: Request) -> String? {
        guard let value = request.headers[.authorization], value.hasPrefix("Bearer ") else { return nil }
        return String(value.dropFirst("Bearer ".count))
    }

    /// A random opaque token.
    static func newToken(prefix: String) -> String {
        prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "")
    }
}

/// A temporary folder removed when the test ends.
struct TemporaryFolder: ~Copyable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("ckp-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ contents: String, mode: Int = 0o600) throws -> String {
        let file = (path as NSString).appendingPathComponent(name)
        try Data(contents.utf8).write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
        return file
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
