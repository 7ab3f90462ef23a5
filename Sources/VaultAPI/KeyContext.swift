/// A key context: string pairs (such as `organization_id = org_123`) that select the
/// key-encrypting keys a data key is wrapped under. One KEK exists per pair.
///
/// A value is valid only if it meets the Vault rules (VAULT-API.md section 3): 1 to 10 pairs, keys
/// of 1 to 120 characters, values of 1 to 500 characters, string values only. Both the client
/// (before any request) and the server check them with ``validate()``, which names the rule broken.
public struct KeyContext: Sendable, Hashable, Codable, ExpressibleByDictionaryLiteral {
    /// The pairs.
    public var pairs: [String: String]

    /// The most pairs a context may hold.
    public static let maxPairs = 10
    /// The longest key, in characters.
    public static let maxKeyLength = 120
    /// The longest value, in characters.
    public static let maxValueLength = 500

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
        if pairs.allSatisfy({ Self.isValid($0.key, $0.value) }) { return }
        for (key, value) in sortedPairs where !Self.isValid(key, value) {
            guard Self.hasValidLength(key, max: Self.maxKeyLength) else {
                throw .keyLength(key: String(key.prefix(40)))
            }
            throw .valueLength(key: String(key.prefix(40)))
        }
    }

    private static func isValid(_ key: String, _ value: String) -> Bool {
        hasValidLength(key, max: maxKeyLength) && hasValidLength(value, max: maxValueLength)
    }

    /// 1 to `max` characters. A character is at least one UTF-8 byte, so counting characters (which
    /// walks grapheme clusters) is needed only when the UTF-8 form is longer than `max`.
    private static func hasValidLength(_ text: String, max: Int) -> Bool {
        let bytes = text.utf8.count
        return bytes > 0 && (bytes <= max || text.count <= max)
    }

    public init(from decoder: any Decoder) throws {
        // Decoded by hand so that a non-string value gets the Vault rule as its error rather than a
        // generic type mismatch.
        let container = try decoder.container(keyedBy: AnyKey.self)
        var pairs: [String: String] = [:]
        for key in container.allKeys {
            guard let value = try? container.decode(String.self, forKey: key) else {
                throw KeyContextError.nonStringValue(key: String(key.stringValue.prefix(40)))
            }
            pairs[key.stringValue] = value
        }
        self.pairs = pairs
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyKey.self)
        for (key, value) in sortedPairs { try container.encode(value, forKey: AnyKey(key)) }
    }
}

/// A broken key-context rule. The message names the rule; it quotes at most 40 characters of a
/// key and never a value (values can be identifying).
public enum KeyContextError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No pairs.
    case empty
    /// More than ``KeyContext/maxPairs`` pairs.
    case tooManyPairs(Int)
    /// A key that is empty or longer than ``KeyContext/maxKeyLength`` characters.
    case keyLength(key: String)
    /// A value that is empty or longer than ``KeyContext/maxValueLength`` characters.
    case valueLength(key: String)
    /// A value that is not a JSON string.
    case nonStringValue(key: String)

    public var description: String {
        switch self {
        case .empty:
            "invalid key context: it must have at least 1 pair"
        case .tooManyPairs(let count):
            "invalid key context: it has \(count) pairs, at most \(KeyContext.maxPairs) are allowed"
        case .keyLength(let key):
            "invalid key context: key '\(key)' must be 1 to \(KeyContext.maxKeyLength) characters"
        case .valueLength(let key):
            "invalid key context: the value of '\(key)' must be 1 to \(KeyContext.maxValueLength) characters"
        case .nonStringValue(let key):
            "invalid key context: the value of '\(key)' must be a string"
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
