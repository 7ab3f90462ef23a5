import Foundation
import VaultAPI

/// `GET /events` query parameters, as the official SDKs send them: `events` (comma-separated
/// types, required), `limit` (1 to 100, default 10), `before`, `after`, `order` (`asc`, `desc`,
/// or `normal`, read as `desc`; default `desc`), `range_start` and `range_end` (ISO 8601), and
/// `organization_id`.
extension EventListQuery {
    /// Reads the query from decoded parameters; unknown parameters are ignored.
    /// - Throws: 422 naming the parameter that is missing, out of range or malformed.
    static func parse(_ parameters: [String: String]) throws(APIError) -> EventListQuery {
        let names = (parameters["events"] ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw APIError.unprocessable("events is required: one or more event types") }
        var types = Set<VaultEventType>()
        for name in names {
            // The text is the caller's: the message does not repeat it.
            guard let type = VaultEventType(rawValue: name) else {
                throw APIError.unprocessable("events holds an unknown event type")
            }
            types.insert(type)
        }
        var query = EventListQuery(events: types)
        if let limit = parameters["limit"] {
            guard let value = Int(limit), (1...EventListQuery.maxLimit).contains(value) else {
                throw APIError.unprocessable("limit must be an integer from 1 to \(EventListQuery.maxLimit)")
            }
            query.limit = value
        }
        switch parameters["order"] {
        case nil, "desc", "normal": query.order = .descending
        case "asc": query.order = .ascending
        default: throw APIError.unprocessable("order must be 'asc', 'desc' or 'normal'")
        }
        query.before = parameters["before"].flatMap { $0.isEmpty ? nil : $0 }
        query.after = parameters["after"].flatMap { $0.isEmpty ? nil : $0 }
        query.rangeStart = try instant(parameters["range_start"], name: "range_start")
        query.rangeEnd = try instant(parameters["range_end"], name: "range_end")
        query.organizationID = parameters["organization_id"].flatMap { $0.isEmpty ? nil : $0 }
        return query
    }

    private static func instant(_ text: String?, name: String) throws(APIError) -> Date? {
        guard let text, !text.isEmpty else { return nil }
        guard let date = ListObjectsQuery.parseInstant(text) else {
            throw APIError.unprocessable("\(name) must be an ISO 8601 date and time")
        }
        return date
    }
}
