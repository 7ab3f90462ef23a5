import VaultAPI

/// Hand-written JSON for the two calls made once per encrypt and per decrypt (`POST
/// /keys/data-key` and `/keys/decrypt`), where Foundation's coders were a large share of the
/// client's time. Encoding writes JSON that `JSONDecoder` reads back to the same values, context
/// pairs in key order.
/// Decoding reads only the plain shape servers send (an object of strings and, for `context`, one
/// nested object of strings, no escapes); anything else returns nil and the caller falls back to
/// `JSONDecoder`, so malformed input still gets the usual typed error.
enum KeyCallJSON {
    /// `{"context":{...}}`
    static func createDataKeyBody(_ context: KeyContext) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + context.pairs.count * 48)
        out.append(contentsOf: #"{"context":{"#.utf8)
        for (index, pair) in context.sortedPairs.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendString(pair.key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendString(pair.value, to: &out)
        }
        out.append(contentsOf: "}}".utf8)
        return out
    }

    /// `{"keys":"..."}`
    static func decryptBody(keys: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(12 + keys.utf8.count)
        out.append(contentsOf: #"{"keys":"#.utf8)
        appendString(keys, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A JSON string literal: `"` and `\` escaped, control characters as short escapes or
    /// `\u00XX`; everything else, `/` and non-ASCII included, as its UTF-8 bytes.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        defer { out.append(UInt8(ascii: "\"")) }
        // Base64 and ordinary context values need no escape: copy them whole.
        func needsEscape(_ byte: UInt8) -> Bool {
            byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
        }
        let escaped =
            text.utf8.withContiguousStorageIfAvailable { $0.contains(where: needsEscape) }
            ?? text.utf8.contains(where: needsEscape)
        guard escaped else {
            out.append(contentsOf: text.utf8)
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0x08: out.append(contentsOf: #"\b"#.utf8)
            case 0x0C: out.append(contentsOf: #"\f"#.utf8)
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
    }

    /// The `/keys/data-key` (and `/keys/rekey`) response, or nil to fall back to `JSONDecoder`.
    static func dataKeyResponse(_ body: [UInt8]) -> DataKeyResponse? {
        guard let object = FlatObject(body),
            case .string(let id) = object["id"],
            case .string(let dataKey) = object["data_key"],
            case .string(let encryptedKeys) = object["encrypted_keys"],
            case .object(let context) = object["context"]
        else { return nil }
        return DataKeyResponse(id: id, dataKey: dataKey, encryptedKeys: encryptedKeys, context: KeyContext(context))
    }

    /// The `/keys/decrypt` response, or nil to fall back to `JSONDecoder`.
    static func decryptDataKeyResponse(_ body: [UInt8]) -> DecryptDataKeyResponse? {
        guard let object = FlatObject(body),
            case .string(let id) = object["id"],
            case .string(let dataKey) = object["data_key"]
        else { return nil }
        return DecryptDataKeyResponse(id: id, dataKey: dataKey)
    }

    /// A JSON object whose values are strings or objects of strings. Parsing fails (nil) on any
    /// other value, on escapes, control characters, invalid UTF-8, duplicate keys, or bytes after
    /// the object: the cases left to `JSONDecoder`.
    struct FlatObject {
        enum Value {
            case string(String)
            case object([String: String])
        }

        private var members: [String: Value] = [:]

        subscript(key: String) -> Value? { members[key] }

        init?(_ bytes: [UInt8]) {
            var reader = Reader(bytes: bytes)
            var members: [String: Value] = [:]
            let parsed = reader.object { key, reader in
                guard members[key] == nil else { return false }
                if reader.peek() == UInt8(ascii: "{") {
                    var inner: [String: String] = [:]
                    let ok = reader.object { innerKey, reader in
                        guard inner[innerKey] == nil, let value = reader.string() else { return false }
                        inner[innerKey] = value
                        return true
                    }
                    guard ok else { return false }
                    members[key] = .object(inner)
                } else {
                    guard let value = reader.string() else { return false }
                    members[key] = .string(value)
                }
                return true
            }
            reader.skipWhitespace()
            guard parsed, reader.atEnd else { return nil }
            self.members = members
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var atEnd: Bool { index == bytes.count }

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: " "), 0x0A, 0x0D, 0x09: index += 1
                default: return
                }
            }
        }

        mutating func peek() -> UInt8? {
            skipWhitespace()
            return index < bytes.count ? bytes[index] : nil
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard peek() == byte else { return false }
            index += 1
            return true
        }

        /// `{ "key": <member>, ... }`, calling `member` after each key's colon.
        mutating func object(_ member: (String, inout Reader) -> Bool) -> Bool {
            guard consume(UInt8(ascii: "{")) else { return false }
            if consume(UInt8(ascii: "}")) { return true }
            repeat {
                guard let key = string(), consume(UInt8(ascii: ":")), member(key, &self) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}"))
        }

        /// A string without escapes or control characters.
        mutating func string() -> String? {
            guard consume(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = bytes.withUnsafeBufferPointer {
                        String(validating: UnsafeBufferPointer(rebasing: $0[start..<index]), as: UTF8.self)
                    }
                    index += 1
                    return text
                }
                guard byte >= 0x20, byte != UInt8(ascii: "\\") else { return nil }
                index += 1
            }
            return nil
        }
    }
}
