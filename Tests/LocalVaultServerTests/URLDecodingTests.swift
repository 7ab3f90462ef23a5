import Foundation
import Testing
import VaultAPI

@testable import LocalVaultServer

@Suite("URL decoding and list queries")
struct URLDecodingTests {
    @Test(
        "path segments decode %XX and keep + literal",
        arguments: [("a%2Fb", "a/b"), ("a+b", "a+b"), ("%E5%90%8D", "名"), ("plain", "plain"), ("%25", "%")]
    )
    func pathSegments(raw: String, decoded: String) throws {
        #expect(try URLDecoding.pathSegment(raw) == decoded)
    }

    @Test("bad escapes and invalid UTF-8 are refused", arguments: ["%zz", "%", "%C3%28", "a%2"])
    func badSegments(raw: String) {
        #expect(throws: APIError.self) { try URLDecoding.pathSegment(raw) }
        #expect(throws: APIError.self) { try URLDecoding.query("search=\(raw)") }
    }

    @Test("query strings: + is a space, the first repeated value wins, bare names are empty")
    func queries() throws {
        let parameters = try URLDecoding.query("search=a+b%2Bc&limit=5&limit=6&flag&order=")
        #expect(parameters == ["search": "a b+c", "limit": "5", "flag": "", "order": ""])
        #expect(try URLDecoding.query(nil).isEmpty)
    }

    @Test("list queries: defaults, every parameter, both spellings of updated_after")
    func listQueries() throws {
        #expect(try ListObjectsQuery.parse([:]) == ListObjectsQuery())
        let query = try ListObjectsQuery.parse([
            "limit": "25", "order": "asc", "before": "b", "after": "a", "search": "db",
            "updatedAfter": "2026-01-02T03:04:05Z",
        ])
        #expect(query.limit == 25 && query.order == .ascending && query.before == "b" && query.after == "a")
        #expect(query.search == "db")
        #expect(query.updatedAfter == Date(timeIntervalSince1970: 1_767_323_045))
        let snake = try ListObjectsQuery.parse(["updated_after": "2026-01-02T03:04:05.250Z"])
        #expect(snake.updatedAfter == Date(timeIntervalSince1970: 1_767_323_045.25))
    }

    @Test(
        "instants from other clients: six fractional digits, offsets",
        arguments: [
            ("2026-01-02T03:04:05.123456+00:00", 1_767_323_045.123456),
            ("2026-01-02T05:04:05+02:00", 1_767_323_045),
            ("2026-01-02T03:04:05.5Z", 1_767_323_045.5),
        ]
    )
    func instants(text: String, seconds: Double) throws {
        let date = try #require(ListObjectsQuery.parseInstant(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_01)
    }

    @Test("malformed instants are refused", arguments: ["2026-01-02", "yesterday", "2026-01-02T03:04:05", ""])
    func badInstants(text: String) {
        #expect(ListObjectsQuery.parseInstant(text) == nil)
    }
}
