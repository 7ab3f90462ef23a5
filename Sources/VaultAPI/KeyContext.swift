/// A key context: string pairs (such as `organization_id = org_123`) that select the
/// key-encrypting keys a data key is wrapped under. One KEK exists per pair.
///
/// A value is valid only if it meets the Vault rules (VAULT-API.md section 3): 1 to 10 pairs, keys
/// of 1 to 120 characters and at most 480 bytes of UTF-8, values of 1 to 500 characters and at
/// most 2000 bytes, string values only, and no control characters (U+0000 to U+001F, U+007F,
/// U+0080 to U+009F) in keys or values. Both the client (before any request) and the server check
/// them with ``validate()``, which names the rule broken and never quotes the context.
public struct KeyContext: Sendable, Hashable, Codable, ExpressibleByDictionaryLiteral {
    /// The pairs.
    public var pairs: [String: String]

    /// The most pairs a context may hold.
    public static let maxPairs = 10
    /// The longest key, in characters.
    public static let maxKeyLength = 120
    /// The longest key, in bytes of UTF-8 (four per character).
    public static let maxKeyByteCount = 480
    /// The longest value, in characters.
    public static let maxValueLength = 500
    /// The longest value, in bytes of UTF-8 (four per character).
    public static let maxValueByteCount = 2000

    /// Creates a context from pairs; call ``validate()`` (or use ``validated(_:)``) before use.
    public init(_ pairs: [String: String]) {
        self.pairs = pairs
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.pairs = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    /// Creates a context and checks it.
    /// - Throws: ``KeyContextError`` naming the rule broken.
    public static func validated(_ pairs: [String: String]) throws(KeyContextError) -> KeyContext {
        let context = KeyContext(pairs)
        try context.validate()
        return context
    }

    /// The pairs sorted by key, so that every use of a context sees its KEKs in the same order.
    public var sortedPairs: [(key: String, value: String)] {
        if pairs.count == 1, let only = pairs.first { return [only] }
        return pairs.sorted { $0.key < $1.key }
    }

    /// Checks the Vault rules.
    /// - Throws: ``KeyContextError`` naming the first rule broken (in key order).
    public func validate() throws(KeyContextError) {
        guard !pairs.isEmpty else { throw .empty }
        guard pairs.count <= Self.maxPairs else { throw .tooManyPairs(pairs.count) }
        // Every encrypt validates: check unsorted, and sort only to name the first bad pair.
        if pairs.allSatisfy({ Self.isValidKey($0.key) && Self.isValidValue($0.value) }) { return }
        for (key, value) in sortedPairs {
            guard Self.hasValidLength(key, maxLength: Self.maxKeyLength, maxByteCount: Self.maxKeyByteCount) else {
                throw .keyLength
            }
            guard !ControlCharacters.occur(in: key) else { throw .keyControlCharacter }
            guard Self.hasValidLength(value, maxLength: Self.maxValueLength, maxByteCount: Self.maxValueByteCount)
            else { throw .valueLength }
            guard !ControlCharacters.occur(in: value) else { throw .valueControlCharacter }
        }
    }

    private static func isValidKey(_ key: String) -> Bool {
        hasValidLength(key, maxLength: maxKeyLength, maxByteCount: maxKeyByteCount)
            && !ControlCharacters.occur(in: key)
    }

    private static func isValidValue(_ value: String) -> Bool {
        hasValidLength(value, maxLength: maxValueLength, maxByteCount: maxValueByteCount)
            && !ControlCharacters.occur(in: value)
    }

    /// 1 to `maxLength` characters and at most `maxByteCount` bytes. A character is at least one
    /// UTF-8 byte, so counting characters (which walks grapheme clusters) is needed only when the
    /// UTF-8 form is longer than `maxLength`.
    private static func hasValidLength(_ text: String, maxLength: Int, maxByteCount: Int) -> Bool {
        let bytes = text.utf8.count
        return bytes > 0 && bytes <= maxByteCount && (bytes <= maxLength || text.count <= maxLength)
    }

    public init(from decoder: any Decoder) throws {
        // Decoded by hand so that a non-string value gets the Vault rule as its error rather than a
        // generic type mismatch.
        let container = try decoder.container(keyedBy: AnyKey.self)
        var pairs: [String: String] = [:]
        for key in container.allKeys {
            do {
                pairs[key.stringValue] = try container.decode(String.self, forKey: key)
            } catch DecodingError.typeMismatch, DecodingError.valueNotFound {
                throw KeyContextError.nonStringValue
            }
            // Anything else (an escape that is no Unicode text, such as a lone surrogate) is
            // malformed JSON, answered as the decoder answers it in any other field.
        }
        self.pairs = pairs
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyKey.self)
        for (key, value) in sortedPairs { try container.encode(value, forKey: AnyKey(key)) }
    }
}

/// A broken key-context rule. The message names the rule and never quotes a key or a value (both
/// are client data, and values can be identifying).
public enum KeyContextError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No pairs.
    case empty
    /// More than ``KeyContext/maxPairs`` pairs.
    case tooManyPairs(Int)
    /// A key that is empty, longer than ``KeyContext/maxKeyLength`` characters or longer than
    /// ``KeyContext/maxKeyByteCount`` bytes.
    case keyLength
    /// A key holding a control character (U+0000 to U+001F, U+007F, U+0080 to U+009F).
    case keyControlCharacter
    /// A value that is empty, longer than ``KeyContext/maxValueLength`` characters or longer than
    /// ``KeyContext/maxValueByteCount`` bytes.
    case valueLength
    /// A value holding a control character (U+0000 to U+001F, U+007F, U+0080 to U+009F).
    case valueControlCharacter
    /// A value that is not a JSON string.
    case nonStringValue

    public var description: String {
        switch self {
        case .empty:
            "invalid key context: it must have at least 1 pair"
        case .tooManyPairs(let count):
            "invalid key context: it has \(count) pairs, at most \(KeyContext.maxPairs) are allowed"
        case .keyLength:
            "invalid key context: each key must be 1 to \(KeyContext.maxKeyLength) characters and at most "
                + "\(KeyContext.maxKeyByteCount) bytes of UTF-8"
        case .keyControlCharacter:
            "invalid key context: keys must not contain \(ControlCharacters.rule)"
        case .valueLength:
            "invalid key context: each value must be 1 to \(KeyContext.maxValueLength) characters and at most "
                + "\(KeyContext.maxValueByteCount) bytes of UTF-8"
        case .valueControlCharacter:
            "invalid key context: values must not contain \(ControlCharacters.rule)"
        case .nonStringValue:
            "invalid key context: every value must be a string"
        }
    }
}

/// A coding key for the free-form keys of a context.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
