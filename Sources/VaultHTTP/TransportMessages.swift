/// An HTTP request for ``CurlTransport``. (Not `TransportRequest`: swift-http-types, which Hummingbird
/// re-exports, has that name.)
public struct TransportRequest: Sendable {
    /// An HTTP method.
    public struct Method: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The method's token, as sent (`GET`).
        public let rawValue: String

        public init(rawValue: String) {
            self.rawValue = rawValue
        }

        public static let get = Method(rawValue: "GET")
        public static let post = Method(rawValue: "POST")
        public static let put = Method(rawValue: "PUT")
        public static let patch = Method(rawValue: "PATCH")
        public static let delete = Method(rawValue: "DELETE")
        public static let head = Method(rawValue: "HEAD")

        public var description: String { rawValue }
    }

    public var method: Method
    /// An absolute `http` or `https` URL.
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// The whole exchange must finish within this time.
    public var timeout: Duration
    /// Connecting (TCP and TLS) must finish within this time.
    public var connectTimeout: Duration

    public init(
        method: Method,
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

/// An HTTP response from ``CurlTransport``.
public struct TransportResponse: Sendable {
    public var status: Int
    /// Header names are lowercased.
    public var headers: [(name: String, value: String)] {
        get {
            switch headerStorage {
            case .parsed(let headers): headers
            case .raw(let block): ResponseHeaderBlock.parse(block)
            }
        }
        set { headerStorage = .parsed(newValue) }
    }
    public var body: [UInt8]
    /// How many new connections the exchange opened (0 when a kept-alive one was reused).
    public var newConnections: Int
    /// The HTTP version used (`1.1`, `2`).
    public var httpVersion: String

    /// Responses from the transport keep their header lines as received and turn them into
    /// strings only when asked: a client reads one or two headers of the many a server sends.
    private enum HeaderStorage: Sendable {
        case parsed([(name: String, value: String)])
        case raw([UInt8])
    }

    private var headerStorage: HeaderStorage

    public init(
        status: Int,
        headers: [(name: String, value: String)],
        body: [UInt8],
        newConnections: Int = 0,
        httpVersion: String = "1.1"
    ) {
        self.status = status
        self.headerStorage = .parsed(headers)
        self.body = body
        self.newConnections = newConnections
        self.httpVersion = httpVersion
    }

    /// A response whose headers are the raw `Name: value\r\n` lines of a header block.
    init(status: Int, headerBlock: [UInt8], body: [UInt8], newConnections: Int, httpVersion: String) {
        self.status = status
        self.headerStorage = .raw(headerBlock)
        self.body = body
        self.newConnections = newConnections
        self.httpVersion = httpVersion
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        switch headerStorage {
        case .parsed(let headers):
            let lowered = name.lowercased()
            return headers.first { $0.name == lowered }?.value
        case .raw(let block):
            return ResponseHeaderBlock.value(of: name, in: block)
        }
    }
}

/// The header lines of one response, as libcurl hands them over: `Name: value\r\n` each, status
/// line and final blank line left out.
enum ResponseHeaderBlock {
    /// Every header, names lowercased and values trimmed; lines without a colon are skipped.
    static func parse(_ block: [UInt8]) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        forEachLine(in: block) { line in
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return true }
            let name = String(decoding: trimmed(line[..<colon]), as: UTF8.self).lowercased()
            let value = String(decoding: trimmed(line[(colon + 1)...]), as: UTF8.self)
            headers.append((name, value))
            return true
        }
        return headers
    }

    /// The trimmed value of the first header called `name` (ASCII case-insensitive).
    static func value(of name: String, in block: [UInt8]) -> String? {
        var found: String?
        let wanted = Array(name.utf8)
        forEachLine(in: block) { line in
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")),
                equalIgnoringASCIICase(trimmed(line[..<colon]), wanted)
            else { return true }
            found = String(decoding: trimmed(line[(colon + 1)...]), as: UTF8.self)
            return false
        }
        return found
    }

    /// Calls `body` with each line, without its line ending, until it returns false.
    private static func forEachLine(in block: [UInt8], _ body: (ArraySlice<UInt8>) -> Bool) {
        var start = block.startIndex
        while start < block.endIndex {
            let end = block[start...].firstIndex(of: UInt8(ascii: "\n")) ?? block.endIndex
            guard body(block[start..<end]) else { return }
            start = end + 1
        }
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        func isSpace(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
                || byte == UInt8(ascii: "\n")
        }
        var slice = bytes
        while let first = slice.first, isSpace(first) { slice.removeFirst() }
        while let last = slice.last, isSpace(last) { slice.removeLast() }
        return slice
    }

    private static func equalIgnoringASCIICase(_ bytes: ArraySlice<UInt8>, _ other: [UInt8]) -> Bool {
        guard bytes.count == other.count else { return false }
        return zip(bytes, other).allSatisfy { lowercased($0) == lowercased($1) }
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}

/// A request that got no HTTP response.
public struct HTTPTransportError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        /// The exchange took longer than its timeout.
        case timeout
        /// The connection could not be made or was lost (refused, reset, DNS, TLS handshake).
        case connection
        /// The server's TLS certificate was not verified (an unknown authority, another host
        /// name, expired), or the CA file could not be read. Not worth a retry.
        case certificate
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
