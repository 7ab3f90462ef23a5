/// The control characters refused in every client-chosen text the service stores or looks up
/// (object names, key-context keys and values, ids): U+0000 to U+001F, U+007F and U+0080 to U+009F
/// (Unicode's general category Cc). SQLite's C interface cuts text at U+0000, so a name or context
/// holding one would be stored as another; the others are refused with it so that one rule covers
/// every text that ends up in logs, file names and terminals.
package enum ControlCharacters {
    /// The rule, as error messages name it.
    package static let rule = "control characters (U+0000 to U+001F, U+007F to U+009F)"

    /// Whether `text` holds a control character.
    package static func occur(in text: some StringProtocol) -> Bool {
        // In UTF-8, C0 controls and DEL are single bytes below 0x80, and a C1 control U+0080 to
        // U+009F is 0xC2 followed by 0x80 to 0x9F; no other sequence holds those bytes in those
        // positions, so a byte scan decides without decoding.
        var afterC2 = false
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F || (afterC2 && byte <= 0x9F) { return true }
            afterC2 = byte == 0xC2
        }
        return false
    }
}
