import NIOCore
import VaultAPI

/// The JSON of the two hottest endpoints (`keys/data-key`, `keys/decrypt`) by hand: Foundation's
/// coders were a tenth of the server's time per request. Responses are byte-identical to what
/// ``JSONResponse`` writes (sorted keys, slashes unescaped); requests take a strict fast path that
/// answers `nil` for anything it does not fully understand (escapes, unknown or repeated fields,
/// non-string values, malformed JSON), so that the general decoder decides, with its own errors.
enum KeyEndpointJSON {
    // MARK: Responses

    /// `{"context":{...},"data_key":"...","encrypted_keys":"...","id":"..."}`.
    static func encode(_ response: DataKeyResponse) -> ByteBuffer {
        let pairs = sortedPairs(response.context)
        var capacity = 64 + response.dataKey.utf8.count + response.encryptedKeys.utf8.count + response.id.utf8.count
        for (key, value) in pairs { capacity += key.utf8.count + value.utf8.count + 6 }
        var buffer = ByteBufferAllocator().buffer(capacity: capacity)
        buffer.writeStaticString(#"{"context":{"#)
        for (index, (key, value)) in pairs.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            writeString(key, to: &buffer)
            buffer.writeInteger(UInt8(ascii: ":"))
            writeString(value, to: &buffer)
        }
        buffer.writeStaticString(#"},"data_key":"#)
        writeString(response.dataKey, to: &buffer)
        buffer.writeStaticString(#","encrypted_keys":"#)
        writeString(response.encryptedKeys, to: &buffer)
        buffer.writeStaticString(#","id":"#)
        writeString(response.id, to: &buffer)
        buffer.writeInteger(UInt8(ascii: "}"))
        return buffer
    }

    /// `{"data_key":"...","id":"..."}`.
    static func encode(_ response: DecryptDataKeyResponse) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(
            capacity: 32 + response.dataKey.utf8.count + response.id.utf8.count
        )
        buffer.writeStaticString(#"{"data_key":"#)
        writeString(response.dataKey, to: &buffer)
        buffer.writeStaticString(#","id":"#)
        writeString(response.id, to: &buffer)
        buffer.writeInteger(UInt8(ascii: "}"))
        return buffer
    }

    /// The pairs in the order `JSONEncoder` writes a dictionary's keys under `.sortedKeys`.
    private static func sortedPairs(_ context: KeyContext) -> [(key: String, value: String)] {
        guard context.pairs.count > 1 else { return context.pairs.map { ($0.key, $0.value) } }
        // Byte-wise over UTF-8, as Foundation sorts on Linux (not `<`, which normalizes first).
        return context.pairs.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    /// `string` as a JSON string, escaped as `JSONEncoder` does (RFC 8259): `"` and `\`, the
    /// control characters (short forms where JSON has them, else `\u00XX`); `/` and non-ASCII as is.
    static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var plainStart = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[plainStart..<index])))
                plainStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString(#"\""#)
                case UInt8(ascii: "\\"): buffer.writeStaticString(#"\\"#)
                case 0x08: buffer.writeStaticString(#"\b"#)
                case 0x0C: buffer.writeStaticString(#"\f"#)
                case 0x0A: buffer.writeStaticString(#"\n"#)
                case 0x0D: buffer.writeStaticString(#"\r"#)
                case 0x09: buffer.writeStaticString(#"\t"#)
                default:
                    let digits: StaticString = "0123456789abcdef"
                    buffer.writeStaticString(#"\u00"#)
                    buffer.writeInteger(digits.utf8Start[Int(byte >> 4)])
                    buffer.writeInteger(digits.utf8Start[Int(byte & 0x0F)])
                }
            }
            buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[plainStart...])))
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    // MARK: Requests

    /// `{"context": {"k": "v", ...}}`, or `nil` to leave the body to the general decoder.
    static func decodeDataKeyRequest(_ body: ByteBuffer) -> CreateDataKeyRequest? {
        body.withUnsafeReadableBytes { bytes in
            var scanner = Scanner(bytes: bytes)
            var context: [String: String]?
            let complete = scanner.object { scanner, field in
                guard field == "context", context == nil else { return false }
                var pairs: [String: String] = [:]
                let parsed = scanner.object { scanner, key in
                    guard pairs[key] == nil, let value = scanner.string() else { return false }
                    pairs[key] = value
                    return true
                }
                context = pairs
                return parsed
            }
            guard complete, scanner.atEnd(), let context else { return nil }
            return CreateDataKeyRequest(context: KeyContext(context))
        }
    }

    /// `{"keys": "..."}`, or `nil` to leave the body to the general decoder.
    static func decodeDecryptRequest(_ body: ByteBuffer) -> DecryptDataKeyRequest? {
        body.withUnsafeReadableBytes { bytes in
            var scanner = Scanner(bytes: bytes)
            var keys: String?
            let complete = scanner.object { scanner, field in
                guard field == "keys", keys == nil, let value = scanner.string() else { return false }
                keys = value
                return true
            }
            guard complete, scanner.atEnd(), let keys else { return nil }
            return DecryptDataKeyRequest(keys: keys)
        }
    }

    /// A strict reader of the small subset of JSON the key requests use: objects and strings
    /// without escapes. Every method answers `false` or `nil` where the subset ends.
    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        mutating func skipWhitespace() {
            while position < bytes.count {
                switch bytes[position] {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): position += 1
                default: return
                }
            }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == byte else { return false }
            position += 1
            return true
        }

        /// Only whitespace is left.
        mutating func atEnd() -> Bool {
            skipWhitespace()
            return position == bytes.count
        }

        /// An object, calling `member` with each name once the scanner stands before its value;
        /// `member` reads the value and says whether it could.
        mutating func object(_ member: (inout Scanner, String) -> Bool) -> Bool {
            guard consume(UInt8(ascii: "{")) else { return false }
            if consume(UInt8(ascii: "}")) { return true }
            repeat {
                guard let name = string(), consume(UInt8(ascii: ":")), member(&self, name) else { return false }
            } while consume(UInt8(ascii: ","))
            return consume(UInt8(ascii: "}"))
        }

        /// A string without escapes or control characters, as valid UTF-8.
        mutating func string() -> String? {
            guard consume(UInt8(ascii: "\"")) else { return nil }
            let start = position
            var ascii = true
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    let text = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
                    position += 1
                    if ascii { return String(decoding: text, as: UTF8.self) }
                    return String(validating: text, as: UTF8.self)
                }
                guard byte >= 0x20, byte != UInt8(ascii: "\\") else { return nil }
                if byte >= 0x80 { ascii = false }
                position += 1
            }
            return nil
        }
    }
}
