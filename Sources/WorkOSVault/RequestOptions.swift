/// Options for the HTTP requests of the calls made inside
/// ``Vault/withRequestOptions(_:_:)``, as the official SDKs' `request_options`: a timeout, a retry
/// policy, an idempotency key and extra headers. A `nil` field keeps the client's configuration.
/// The embedded store makes no requests and ignores them.
///
/// ```swift
/// let object = try await vault.withRequestOptions(RequestOptions(timeout: .seconds(5), idempotencyKey: "order-42")) {
///     try await vault.createObject(name: "order-42-card", value: card, context: ["organization_id": "org_123"])
/// }
/// ```
public struct RequestOptions: Sendable, Hashable {
    /// The limit on each request, connection included (instead of ``RemoteConfiguration/requestTimeout``).
    public var timeout: Duration?
    /// Retries of each request (instead of ``RemoteConfiguration/retry``); `RetryPolicy.none` for none.
    public var retry: RetryPolicy?
    /// The `Idempotency-Key` of the POST requests (instead of a new random one per call). Give it to a
    /// call that makes one POST, such as `createObject` or `createDataKey`: a repeat with the same key
    /// and body is answered with the first answer, within the server's idempotency window.
    public var idempotencyKey: String?
    /// Headers added to each request. Those the client sets itself (`Authorization`, `Accept`,
    /// `Content-Type`, `Content-Length`, `Host`, `User-Agent`, `Idempotency-Key`) are refused.
    public var headers: [String: String]

    public init(
        timeout: Duration? = nil,
        retry: RetryPolicy? = nil,
        idempotencyKey: String? = nil,
        headers: [String: String] = [:]
    ) {
        self.timeout = timeout
        self.retry = retry
        self.idempotencyKey = idempotencyKey
        self.headers = headers
    }

    /// The options of the calls running in this task, if any.
    @TaskLocal static var current: RequestOptions?

    /// Headers the client sets itself, lowercased.
    static let reservedHeaders: Set<String> = [
        "authorization", "accept", "content-type", "content-length", "host", "user-agent", "idempotency-key",
        "transfer-encoding", "connection",
    ]

    /// Throws unless every field can go on the wire as given.
    func validate() throws {
        if let timeout, timeout <= .zero {
            throw VaultError(.configuration, "the request timeout must be positive")
        }
        if let idempotencyKey {
            guard (1...255).contains(idempotencyKey.utf8.count), idempotencyKey.utf8.allSatisfy(Self.isVisibleASCII)
            else { throw VaultError(.configuration, "the idempotency key must be 1 to 255 visible ASCII characters") }
        }
        for (name, value) in headers {
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte) else {
                throw VaultError(.configuration, "an extra header name is not an HTTP token")
            }
            guard !Self.reservedHeaders.contains(name.lowercased()) else {
                throw VaultError(.configuration, "the header \(name) is set by the client; see RequestOptions")
            }
            // No line breaks or other control characters: they would end the header early.
            guard value.utf8.allSatisfy({ $0 == 0x09 || (0x20...0x7E).contains($0) || $0 >= 0x80 }) else {
                throw VaultError(.configuration, "the value of the header \(name) has a control character")
            }
        }
    }

    private static func isVisibleASCII(_ byte: UInt8) -> Bool { (0x21...0x7E).contains(byte) }

    /// RFC 9110's `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

extension Vault {
    /// Runs `body` with `options` applied to every request the calls in it make (in this task and
    /// the tasks it starts), as the official SDKs' per-call `request_options`.
    /// - Throws: ``VaultError`` (`.configuration`) from the first request when an option cannot be
    ///   used (a reserved header, a line break in a value); else what `body` throws.
    public func withRequestOptions<Result: Sendable>(
        _ options: RequestOptions,
        _ body: () async throws -> Result
    ) async throws -> Result {
        try await RequestOptions.$current.withValue(options) { try await body() }
    }
}
