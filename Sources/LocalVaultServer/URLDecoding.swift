import Foundation

/// Percent-decoding of the parts of a request URL. Routing matches the raw path, segment by
/// segment, so a name holding `/` (sent as `%2F`) stays one segment; each captured segment is
/// decoded afterwards.
enum URLDecoding {
    /// Decodes one raw path segment. `+` is a literal plus in a path.
    /// - Throws: 400 for a bad `%` escape or bytes that are not UTF-8.
    static func pathSegment(_ raw: some StringProtocol) throws(APIError) -> String {
        guard let decoded = String(raw).removingPercentEncoding else {
            throw APIError.badRequest("a path segment is not valid percent-encoded UTF-8")
        }
        return decoded
    }

    /// Parses a raw query string (`application/x-www-form-urlencoded`: `+` is a space). The first
    /// value of a repeated name wins.
    /// - Throws: 400 for a bad `%` escape or bytes that are not UTF-8.
    static func query(_ raw: String?) throws(APIError) -> [String: String] {
        guard let raw, !raw.isEmpty else { return [:] }
        var parameters: [String: String] = [:]
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try queryComponent(parts[0])
            let value = try parts.count > 1 ? queryComponent(parts[1]) : ""
            if parameters[name] == nil { parameters[name] = value }
        }
        return parameters
    }

    private static func queryComponent(_ raw: Substring) throws(APIError) -> String {
        guard let decoded = raw.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
            throw APIError.badRequest("the query string is not valid percent-encoded UTF-8")
        }
        return decoded
    }
}
