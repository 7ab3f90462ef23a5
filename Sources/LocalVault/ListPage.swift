import VaultAPI

/// A page of a cursor-paginated list (`GET /kv`, `GET /events`), read with `limit + 1` rows in
/// reading order (a `before` cursor reads backwards): the extra row tells that more follow; the
/// page is flipped back to the list's order and its cursors built.
struct ListPage<Row> {
    /// The page's rows, in the list's order.
    private(set) var rows: [Row]
    private let hasMore: Bool
    private let backwards: Bool
    private let continuesAfter: Bool

    /// - Parameters:
    ///   - backwards: the page was read before a `before` cursor.
    ///   - after: the `after` cursor the page was read from, if any.
    init(rows: [Row], limit: Int, backwards: Bool, after: String?) {
        hasMore = rows.count > limit
        self.rows = Array(rows.prefix(limit))
        if backwards { self.rows.reverse() }
        self.backwards = backwards
        continuesAfter = after != nil
    }

    /// The `list_metadata`: `before` when rows precede the page, `after` when rows follow it.
    func metadata(id: (Row) -> String) -> ListMetadata {
        if backwards {
            return ListMetadata(before: hasMore ? rows.first.map(id) : nil, after: rows.last.map(id))
        }
        return ListMetadata(before: continuesAfter ? rows.first.map(id) : nil, after: hasMore ? rows.last.map(id) : nil)
    }
}
