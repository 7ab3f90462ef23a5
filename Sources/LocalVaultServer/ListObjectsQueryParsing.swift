import Foundation
import VaultAPI

/// `GET /vault/v1/kv` query parameters: `limit` (default 10, 1 to 100), `before`, `after`,
/// `order` (`asc` or `desc`, default `desc`), `search`, and `updatedAfter` (what the Python SDK
/// sends) or `updated_after` (what the Node SDK sends), an ISO 8601 instant; and this project's
/// `key_context` (see ``KeyContextQuery``).
extension ListObjectsQuery {
    /// Reads the query from decoded parameters; unknown parameters are ignored.
    /// - Throws: 422 naming the parameter that is out of range or malformed.
    static func parse(_ parameters: [String: String]) throws(APIError) -> ListObjectsQuery {
        var query = ListObjectsQuery()
        if let limit = parameters["limit"] {
            guard let value = Int(limit), (1...ListObjectsQuery.maxLimit).contains(value) else {
                throw APIError.unprocessable("limit must be an integer from 1 to \(ListObjectsQuery.maxLimit)")
            }
            query.limit = value
        }
        if let order = parameters["order"] {
            guard let value = ListOrder(rawValue: order) else {
                throw APIError.unprocessable("order must be 'asc' or 'desc'")
            }
            query.order = value
        }
        query.before = parameters["before"].flatMap { $0.isEmpty ? nil : $0 }
        query.after = parameters["after"].flatMap { $0.isEmpty ? nil : $0 }
        query.search = parameters["search"].flatMap { $0.isEmpty ? nil : $0 }
        if let text = parameters["updatedAfter"] ?? parameters["updated_after"], !text.isEmpty {
            guard let date = parseInstant(text) else {
                throw APIError.unprocessable("updated_after must be an ISO 8601 date and time")
            }
            query.updatedAfter = date
        }
        query.keyContext = try KeyContextQuery.parse(parameters)
        return query
    }

    /// Vault's own format first, then what other clients produce: any number of fractional
    /// digits (Python's `isoformat()` writes six) and a `+hh:mm` offset.
    static func parseInstant(_ text: String) -> Date? {
        if let date = VaultJSON.parseISO8601(text) { return date }
        guard
            let regex = try? Regex<(Substring, Substring, Substring?, Substring)>(
                #"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$"#
            ), let match = try? regex.wholeMatch(in: text)
        else { return nil }
        let (_, base, fraction, zone) = match.output
        guard let whole = VaultJSON.parseISO8601("\(base)\(zone)") else { return nil }
        let seconds = fraction.flatMap { Double("0" + $0) } ?? 0
        return whole.addingTimeInterval(seconds)
    }
}
