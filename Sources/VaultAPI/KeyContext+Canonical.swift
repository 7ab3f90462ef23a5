/// The one written form of a key context that two parties compare: how the store keeps an
/// object's context, how the `key_context` query parameter is sent, and what a client compares a
/// returned context against.
extension KeyContext {
    /// The context as canonical JSON: the pairs sorted by the UTF-8 bytes of their keys, no
    /// whitespace, strings written as `JSONEncoder` writes them (without escaping `/`).
    ///
    /// Two contexts have the same canonical JSON exactly when they hold the same pairs byte for
    /// byte, so a lookup by context is one equality on an indexed column.
    public var canonicalJSON: String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        let sorted = pairs.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        for (index, pair) in sorted.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            PlainJSONString.write(pair.key) { bytes.append(contentsOf: $0) }
            bytes.append(UInt8(ascii: ":"))
            PlainJSONString.write(pair.value) { bytes.append(contentsOf: $0) }
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `other` holds exactly the same pairs, byte for byte. Unlike `==` (Swift compares
    /// strings by Unicode canonical equivalence), a key or value written with other code points,
    /// or with other spacing, does not match.
    public func matchesExactly(_ other: KeyContext) -> Bool {
        guard pairs.count == other.pairs.count else { return false }
        return canonicalJSON.utf8.elementsEqual(other.canonicalJSON.utf8)
    }
}
