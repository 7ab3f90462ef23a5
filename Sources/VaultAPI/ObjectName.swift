/// The rule for object names: 1 to ``maxLength`` characters, at most ``maxByteCount`` bytes of
/// UTF-8, and no control characters (U+0000 to U+001F, U+007F, U+0080 to U+009F). Both the client
/// (before any request) and the server check it with ``validate(_:)``.
public enum ObjectName {
    /// The longest name, in characters (grapheme clusters).
    public static let maxLength = 200
    /// The longest name, in bytes of UTF-8: four per character, so that a name of ``maxLength``
    /// characters of any script fits, while one character made of many combining marks does not
    /// make a list page megabytes long.
    public static let maxByteCount = 800

    /// Checks a name against the rule.
    /// - Throws: ``ObjectNameError`` naming the rule broken (never the name).
    public static func validate(_ name: String) throws(ObjectNameError) {
        let bytes = name.utf8.count
        // A character is at least one byte: counting characters is needed only past maxLength bytes.
        guard bytes > 0, bytes <= maxByteCount, bytes <= maxLength || name.count <= maxLength else {
            throw .length
        }
        guard !ControlCharacters.occur(in: name) else { throw .controlCharacter }
    }
}

/// A broken object-name rule. The message names the rule and never quotes the name.
public enum ObjectNameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Empty, longer than ``ObjectName/maxLength`` characters or ``ObjectName/maxByteCount`` bytes.
    case length
    /// A control character (U+0000 to U+001F, U+007F, U+0080 to U+009F).
    case controlCharacter

    public var description: String {
        switch self {
        case .length:
            "name must be 1 to \(ObjectName.maxLength) characters and at most \(ObjectName.maxByteCount) bytes of UTF-8"
        case .controlCharacter:
            "name must not contain \(ControlCharacters.rule)"
        }
    }
}
