import GRDB

/// The one way ``SQLiteStorage`` builds the arguments of its SQL statements. GRDB binds a `String` with
/// `sqlite3_bind_text(..., -1, ...)`, which reads it as a C string: text holding U+0000 would be
/// stored, or compared, cut at its first NUL, so that one name silently stands for another. The
/// rules upstream (``ObjectName``, ``KeyContext``, the lookups) refuse such text first; this is
/// the last line, for any path that reaches the store without them.
extension StatementArguments {
    /// Arguments from `values`.
    /// - Throws: ``LocalVaultError/textHoldsNUL`` when a text value holds U+0000.
    static func checked(_ values: [(any DatabaseValueConvertible)?]) throws(LocalVaultError) -> StatementArguments {
        for value in values {
            if let text = value as? String, text.utf8.contains(0) { throw .textHoldsNUL }
        }
        return StatementArguments(values)
    }
}

extension LocalVaultError {
    /// Text holding U+0000 reached the store (400): refused, never stored or matched cut short.
    package static let textHoldsNUL = LocalVaultError(
        .invalidRequest,
        "text holding U+0000 (NUL) cannot be stored or looked up"
    )
}
