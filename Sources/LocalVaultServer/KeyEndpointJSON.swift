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

    /// `string` as a JSON string literal, escaped as `JSONEncoder` escapes it.
    static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        PlainJSONString.write(string) { buffer.writeBytes($0) }
    }

    // MARK: Requests

    /// `{"context": {"k": "v", ...}}`, or `nil` to leave the body to the general decoder.
    static func decodeDataKeyRequest(_ body: ByteBuffer) -> CreateDataKeyRequest? {
        body.withUnsafeReadableBytes { bytes in
            var scanner = PlainJSONScanner(bytes: bytes)
            var context: [String: String]?
            let complete = scanner.object { scanner, field in
                guard field == "context", context == nil else { return false }
                context = scanner.stringObject()
                return context != nil
            }
            guard complete, scanner.atEnd(), let context else { return nil }
            return CreateDataKeyRequest(context: KeyContext(context))
        }
    }

    /// `{"keys": "..."}`, or `nil` to leave the body to the general decoder.
    static func decodeDecryptRequest(_ body: ByteBuffer) -> DecryptDataKeyRequest? {
        body.withUnsafeReadableBytes { bytes in
            var scanner = PlainJSONScanner(bytes: bytes)
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
}
