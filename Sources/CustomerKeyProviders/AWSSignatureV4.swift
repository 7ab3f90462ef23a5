import EnvelopeCrypto
import Foundation

/// AWS credentials: an access key, its secret and, for temporary credentials, a session token.
/// `description` never shows the secret or the token.
public struct AWSCredentials: Sendable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "AWSCredentials(\(accessKeyID), redacted)" }
}

/// AWS Signature Version 4, header signing, written from AWS's published description ("Create a
/// signed AWS API request") and checked against AWS's SigV4 test suite.
package struct AWSSignatureV4: Sendable {
    /// A request to sign: the raw (not percent-encoded) path and query items.
    package struct Request: Sendable {
        package var method: String
        package var path: String
        package var query: [(name: String, value: String)]
        package var headers: [(name: String, value: String)]
        package var body: [UInt8]

        package init(
            method: String,
            path: String,
            query: [(name: String, value: String)] = [],
            headers: [(name: String, value: String)],
            body: [UInt8] = []
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    /// The intermediate results, which the test suite checks one by one.
    package struct Signature: Sendable {
        package var canonicalRequest: String
        package var stringToSign: String
        package var signature: String
        /// The headers to add to the request: `X-Amz-Date`, the session token and body hash where
        /// they apply, and `Authorization`.
        package var headers: [(name: String, value: String)]
    }

    package var credentials: AWSCredentials
    package var region: String
    package var service: String
    /// Whether the path's `.` and `..` segments and repeated slashes are removed first (every
    /// service but S3).
    package var normalizePath = true
    /// Whether `X-Amz-Content-SHA256` is added and signed.
    package var signBody = false
    /// Whether the session token is left out of the signature and added afterwards (STS only).
    package var omitSessionToken = false

    package init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    package func sign(_ request: Request, at date: Date) -> Signature {
        let amzDate = Self.timestamp(date, format: "yyyyMMdd'T'HHmmss'Z'")
        let day = String(amzDate.prefix(8))
        let payloadHash = SHA256.hexDigest(request.body)
        var added: [(name: String, value: String)] = [("X-Amz-Date", amzDate)]
        if signBody { added.append(("X-Amz-Content-SHA256", payloadHash)) }
        if let token = credentials.sessionToken, !omitSessionToken { added.append(("X-Amz-Security-Token", token)) }

        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(request.headers + added)
        let canonicalRequest = [
            request.method,
            Self.canonicalPath(request.path, normalize: normalizePath),
            Self.canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256", amzDate, scope, SHA256.hexDigest(Array(canonicalRequest.utf8)),
        ].joined(separator: "\n")

        var key = Array("AWS4\(credentials.secretAccessKey)".utf8)
        for part in [day, region, service, "aws4_request"] {
            let next = HMACSHA256.authenticationCode(key: key, message: Array(part.utf8))
            key.wipe()
            key = next
        }
        let signature = HMACSHA256.hex(HMACSHA256.authenticationCode(key: key, message: Array(stringToSign.utf8)))
        key.wipe()

        if let token = credentials.sessionToken, omitSessionToken { added.append(("X-Amz-Security-Token", token)) }
        added.append(
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
                    + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
            )
        )
        return Signature(
            canonicalRequest: canonicalRequest,
            stringToSign: stringToSign,
            signature: signature,
            headers: added
        )
    }

    /// Names lowercased and sorted; values trimmed, runs of spaces made one, repeated headers
    /// joined with commas in their order.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (String, String) {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            let collapsed = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
                .joined(separator: " ")
            values[name.lowercased(), default: []].append(collapsed)
        }
        let names = values.keys.sorted()
        let lines = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        return (lines, names.joined(separator: ";"))
    }

    static func canonicalPath(_ path: String, normalize: Bool) -> String {
        var path = path.isEmpty ? "/" : path
        if normalize {
            var segments: [Substring] = []
            for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
                switch segment {
                case ".": continue
                case "..": _ = segments.popLast()
                default: segments.append(segment)
                }
            }
            let trailing = path.hasSuffix("/") || path.hasSuffix("/.") || path.hasSuffix("/..")
            path = "/" + segments.joined(separator: "/") + (trailing && !segments.isEmpty ? "/" : "")
        }
        return percentEncode(path, keepingSlashes: true)
    }

    static func canonicalQuery(_ items: [(name: String, value: String)]) -> String {
        let encoded: [(name: String, value: String)] = items.map { item in
            (percentEncode(item.name, keepingSlashes: false), percentEncode(item.value, keepingSlashes: false))
        }
        let sorted = encoded.sorted { left, right in
            left.name == right.name ? left.value < right.value : left.name < right.name
        }
        return sorted.map { item in item.name + "=" + item.value }.joined(separator: "&")
    }

    /// RFC 3986 unreserved characters stay, everything else becomes `%XX` (uppercase hex).
    static func percentEncode(_ text: String, keepingSlashes: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if unreserved.contains(byte) || (keepingSlashes && byte == UInt8(ascii: "/")) {
                encoded.append(byte)
            } else {
                encoded += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    private static let unreserved = Set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8
    )

    static func timestamp(_ date: Date, format: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = format
        return formatter.string(from: date)
    }
}
