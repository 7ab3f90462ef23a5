import Foundation
import Testing

@testable import CustomerKeyProviders

/// The signer against AWS's published SigV4 test suite (`Fixtures/aws-sigv4/`, Apache-2.0): for
/// every case, the canonical request, the string to sign and the signature must match exactly.
/// The case list is fixed here, so a missing fixture file fails its case instead of vanishing.
struct SigV4SuiteTests {
    static let cases = [
        "get-header-key-duplicate", "get-header-value-multiline", "get-header-value-order", "get-header-value-trim",
        "get-relative-normalized", "get-relative-relative-normalized", "get-relative-relative-unnormalized",
        "get-relative-unnormalized", "get-slash-dot-slash-normalized", "get-slash-dot-slash-unnormalized",
        "get-slash-normalized", "get-slash-pointless-dot-normalized", "get-slash-pointless-dot-unnormalized",
        "get-slash-unnormalized", "get-slashes-normalized", "get-slashes-unnormalized", "get-space-normalized",
        "get-space-unnormalized", "get-unreserved", "get-utf8", "get-vanilla", "get-vanilla-empty-query-key",
        "get-vanilla-query", "get-vanilla-query-order-encoded", "get-vanilla-query-order-key-case",
        "get-vanilla-query-unreserved", "get-vanilla-utf8-query", "get-vanilla-with-session-token",
        "post-header-key-case", "post-header-key-sort", "post-header-value-case", "post-sts-header-after",
        "post-sts-header-before", "post-vanilla", "post-vanilla-empty-query-value", "post-vanilla-query",
        "post-x-www-form-urlencoded", "post-x-www-form-urlencoded-parameters",
    ]

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/aws-sigv4")

    struct Context: Decodable {
        struct Credentials: Decodable {
            var access_key_id: String
            var secret_access_key: String
            var token: String?
        }
        var credentials: Credentials
        var normalize: Bool
        var region: String
        var service: String
        var sign_body: Bool
        var timestamp: String
        var omit_session_token: Bool?
    }

    @Test func theSuiteHasItsThirtyEightCasesAndItsLicence() throws {
        #expect(Self.cases.count == 38)
        let licence = try String(contentsOf: Self.folder.appendingPathComponent("LICENSE"), encoding: .utf8)
        #expect(licence.contains("Apache License"))
    }

    @Test(arguments: cases)
    func headerSigningMatches(name: String) throws {
        let folder = Self.folder.appendingPathComponent("v4").appendingPathComponent(name)
        func read(_ file: String) throws -> String {
            try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        }
        let context = try JSONDecoder().decode(
            Context.self,
            from: Data(contentsOf: folder.appendingPathComponent("context.json"))
        )
        var signer = AWSSignatureV4(
            credentials: AWSCredentials(
                accessKeyID: context.credentials.access_key_id,
                secretAccessKey: context.credentials.secret_access_key,
                sessionToken: context.credentials.token
            ),
            region: context.region,
            service: context.service
        )
        signer.normalizePath = context.normalize
        signer.signBody = context.sign_body
        signer.omitSessionToken = context.omit_session_token ?? false
        let date = try #require(ISO8601DateFormatter().date(from: context.timestamp))
        let signature = signer.sign(try Self.parse(try read("request.txt")), at: date)
        #expect(signature.canonicalRequest == (try read("header-canonical-request.txt")))
        #expect(signature.stringToSign == (try read("header-string-to-sign.txt")))
        #expect(
            signature.signature == (try read("header-signature.txt")).trimmingCharacters(in: .whitespacesAndNewlines)
        )
    }

    /// A raw HTTP/1.1 request of the suite: request line, headers (continuation lines start with
    /// white space), a blank line and the body. The query is percent-decoded into raw items.
    static func parse(_ text: String) throws -> AWSSignatureV4.Request {
        let (head, body) =
            text.range(of: "\n\n").map { (String(text[..<$0.lowerBound]), String(text[$0.upperBound...])) }
            ?? (text, "")
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst()
        let method = String(requestLine.prefix { $0 != " " })
        let target = String(requestLine.dropFirst(method.count + 1).dropLast(" HTTP/1.1".count))
        let (path, queryText) =
            target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) }
            ?? (target, "")
        let query: [(name: String, value: String)] =
            queryText.isEmpty
            ? []
            : queryText.split(separator: "&").map { item in
                let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let decode = { (part: Substring) in part.removingPercentEncoding ?? String(part) }
                return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
            }
        var headers: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += " " + line
            } else {
                let colon = try #require(line.firstIndex(of: ":"))
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        return AWSSignatureV4.Request(
            method: method,
            path: path,
            query: query,
            headers: headers,
            body: Array(body.utf8)
        )
    }
}
