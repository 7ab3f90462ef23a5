/// An HTTP request for ``CurlTransport``.
public struct HTTPRequest: Sendable {
    public var method: String
    /// An absolute `http` or `https` URL.
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// The whole exchange must finish within this time.
    public var timeout: Duration
    /// Connecting (TCP and TLS) must finish within this time.
    public var connectTimeout: Duration

    public init(
        method: String,
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8]? = nil,
        timeout: Duration = .seconds(60),
        connectTimeout: Duration = .seconds(10)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }
}

/// An HTTP response.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names are lowercased.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// How many new connections the exchange opened (0 when a kept-alive one was reused).
    public var newConnections: Int
    /// The HTTP version used (`1.1`, `2`).
    public var httpVersion: String

    public init(
        status: Int,
        headers: [(name: String, value: String)],
        body: [UInt8],
        newConnections: Int = 0,
        httpVersion: String = "1.1"
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.newConnections = newConnections
        self.httpVersion = httpVersion
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name == lowered }?.value
    }
}

/// A request that got no HTTP response.
public struct HTTPTransportError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        /// The exchange took longer than its timeout.
        case timeout
        /// The connection could not be made or was lost (refused, reset, DNS, TLS).
        case connection
        /// The URL is malformed or not http/https.
        case invalidURL
        /// The response body was larger than the transport accepts.
        case responseTooLarge
        /// The calling task was cancelled.
        case cancelled
        /// Any other libcurl failure.
        case other
    }

    public let kind: Kind
    /// libcurl's explanation; never holds request bodies or headers.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "HTTPTransportError.\(kind.rawValue): \(message)" }
}
