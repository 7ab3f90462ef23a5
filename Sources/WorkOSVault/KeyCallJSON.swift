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

    /// `text` as a JSON string literal, escaped as `JSONEncoder` escapes it.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        PlainJSONString.write(text) { out.append(contentsOf: $0) }
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
            var members: [String: Value] = [:]
            let parsed = bytes.withUnsafeBytes { bytes in
                var scanner = PlainJSONScanner(bytes: bytes)
                let parsed = scanner.object { scanner, key in
                    guard members[key] == nil else { return false }
                    if scanner.peek() == UInt8(ascii: "{") {
                        guard let inner = scanner.stringObject() else { return false }
                        members[key] = .object(inner)
                    } else {
                        guard let value = scanner.string() else { return false }
                        members[key] = .string(value)
                    }
                    return true
                }
                return parsed && scanner.atEnd()
            }
            guard parsed else { return nil }
            self.members = members
        }
    }
}
