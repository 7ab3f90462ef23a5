import LocalVault
import PostgresNIO

/// SQL written in this module, never a value: the only text a ``StorageQuery`` takes unbound.
struct SQLText: Sendable {
    let text: String

    init(_ text: StaticString) { self.text = "\(text)" }
}

/// A statement whose values are all bound (`$1`, `$2`, ...), written by string interpolation as
/// PostgresNIO's `PostgresQuery` is, through which every query of this module is built, so that
/// text holding U+0000 is refused in one place before anything is sent: PostgreSQL cannot store
/// it, and refusing it here keeps the SQLite rule (``LocalVaultError/textHoldsNUL``) on both backends.
struct StorageQuery: ExpressibleByStringInterpolation, Sendable {
    private var sql: String
    private var binds: PostgresBindings
    private var holdsNUL: Bool

    init(stringLiteral value: String) {
        sql = value
        binds = PostgresBindings()
        holdsNUL = false
    }

    init(stringInterpolation: StringInterpolation) {
        sql = stringInterpolation.sql
        binds = stringInterpolation.binds
        holdsNUL = stringInterpolation.holdsNUL
    }

    /// The query to send.
    /// - Throws: ``LocalVaultError/textHoldsNUL`` when a bound text holds U+0000.
    func checked() throws(LocalVaultError) -> PostgresQuery {
        guard !holdsNUL else { throw .textHoldsNUL }
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var sql = ""
        fileprivate var binds = PostgresBindings()
        fileprivate var holdsNUL = false

        init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + 3 * interpolationCount)
        }

        mutating func appendLiteral(_ literal: String) { sql += literal }

        /// SQL of this module's own (a keyword, an operator), pasted as it is.
        mutating func appendInterpolation(_ text: SQLText) { sql += text.text }

        mutating func appendInterpolation(_ text: String) {
            if text.utf8.contains(0) { holdsNUL = true }
            binds.append(text)
            placeholder()
        }

        mutating func appendInterpolation(_ text: String?) {
            if let text { appendInterpolation(text) } else { appendNull() }
        }

        mutating func appendInterpolation(_ number: Int64) {
            binds.append(number)
            placeholder()
        }

        mutating func appendInterpolation(_ number: Int64?) {
            if let number { appendInterpolation(number) } else { appendNull() }
        }

        mutating func appendInterpolation(_ number: Int) { appendInterpolation(Int64(number)) }

        mutating func appendInterpolation(_ number: Int?) { appendInterpolation(number.map(Int64.init)) }

        /// A `text[]`, for a statement that takes many rows at once (`unnest`).
        mutating func appendInterpolation(_ texts: [String]) {
            if texts.contains(where: { $0.utf8.contains(0) }) { holdsNUL = true }
            binds.append(texts)
            placeholder()
        }

        /// A `bigint[]`, as the `text[]` above.
        mutating func appendInterpolation(_ numbers: [Int64]) {
            binds.append(numbers)
            placeholder()
        }

        /// A `boolean[]`, as the `text[]` above.
        mutating func appendInterpolation(_ flags: [Bool]) {
            binds.append(flags)
            placeholder()
        }

        mutating func appendInterpolation(_ bytes: [UInt8]) {
            binds.append(ByteBuffer(bytes: bytes))
            placeholder()
        }

        private mutating func appendNull() {
            binds.appendNull()
            placeholder()
        }

        private mutating func placeholder() { sql += "$\(binds.count)" }
    }
}

extension PostgresConnection {
    /// The rows `query` returns, all read.
    func rows(_ query: StorageQuery) async throws -> [PostgresRow] {
        try await self.query(query.checked(), logger: PostgresStorage.silent).collect()
    }

    /// Runs `query`, discarding any rows.
    func run(_ query: StorageQuery) async throws {
        _ = try await rows(query)
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}
