/// Strict standard base64 (RFC 4648 section 4) with padding, the encoding of every Vault blob,
/// data key and wrapped-keys field.
///
/// Decoding rejects what lenient decoders (Foundation's `Data(base64Encoded:)` among them) let
/// through: characters outside the alphabet (whitespace and the URL-safe `-` `_` included), a
/// length that is not a multiple of 4, missing, misplaced or extra `=`, and non-zero padding bits.
/// So every byte string has exactly one accepted encoding.
public enum Base64 {
    /// Encodes bytes as standard base64 with padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    /// Decodes strict standard base64 with padding.
    /// - Throws: ``EnvelopeCryptoError/invalidBase64`` for anything else.
    @inlinable
    public static func decode(_ text: some StringProtocol) throws -> [UInt8] {
        if let decoded = try text.utf8.withContiguousStorageIfAvailable({ try decode(UnsafeRawBufferPointer($0)) }) {
            return decoded
        }
        return try Array(text.utf8).withUnsafeBytes { try decode($0) }
    }

    /// Encodes bytes as standard base64 with padding.
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        let count = encodedCount(bytes.count)
        guard count > 0 else { return "" }
        return String(unsafeUninitializedCapacity: count) { output in
            encode(bytes, into: UnsafeMutableRawPointer(output.baseAddress!))
            return count
        }
    }

    /// The length of the encoding of `byteCount` bytes.
    static func encodedCount(_ byteCount: Int) -> Int { (byteCount + 2) / 3 * 4 }

    /// Writes the encoding of `bytes` at `output`, which has room for `encodedCount(bytes.count)`.
    static func encode(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer) {
        alphabet.withUnsafeBufferPointer { alphabet in
            var input = 0
            var written = 0
            let whole = bytes.count - bytes.count % 3
            while input < whole {
                let group = UInt32(bytes[input]) << 16 | UInt32(bytes[input + 1]) << 8 | UInt32(bytes[input + 2])
                output.storeBytes(of: alphabet[Int(group >> 18)], toByteOffset: written, as: UInt8.self)
                output.storeBytes(of: alphabet[Int(group >> 12 & 0x3F)], toByteOffset: written + 1, as: UInt8.self)
                output.storeBytes(of: alphabet[Int(group >> 6 & 0x3F)], toByteOffset: written + 2, as: UInt8.self)
                output.storeBytes(of: alphabet[Int(group & 0x3F)], toByteOffset: written + 3, as: UInt8.self)
                input += 3
                written += 4
            }
            let padding = UInt8(ascii: "=")
            switch bytes.count - whole {
            case 1:
                let group = UInt32(bytes[input]) << 16
                output.storeBytes(of: alphabet[Int(group >> 18)], toByteOffset: written, as: UInt8.self)
                output.storeBytes(of: alphabet[Int(group >> 12 & 0x3F)], toByteOffset: written + 1, as: UInt8.self)
                output.storeBytes(of: padding, toByteOffset: written + 2, as: UInt8.self)
                output.storeBytes(of: padding, toByteOffset: written + 3, as: UInt8.self)
            case 2:
                let group = UInt32(bytes[input]) << 16 | UInt32(bytes[input + 1]) << 8
                output.storeBytes(of: alphabet[Int(group >> 18)], toByteOffset: written, as: UInt8.self)
                output.storeBytes(of: alphabet[Int(group >> 12 & 0x3F)], toByteOffset: written + 1, as: UInt8.self)
                output.storeBytes(of: alphabet[Int(group >> 6 & 0x3F)], toByteOffset: written + 2, as: UInt8.self)
                output.storeBytes(of: padding, toByteOffset: written + 3, as: UInt8.self)
            default:
                break
            }
        }
    }

    /// Decodes raw ASCII.
    @usableFromInline
    static func decode(_ text: UnsafeRawBufferPointer) throws(EnvelopeCryptoError) -> [UInt8] {
        guard text.count % 4 == 0 else { throw .invalidBase64 }
        guard !text.isEmpty else { return [] }
        let padding =
            text[text.count - 1] == UInt8(ascii: "=") ? (text[text.count - 2] == UInt8(ascii: "=") ? 2 : 1) : 0
        let count = text.count / 4 * 3 - padding
        var valid = true
        let decoded = [UInt8](unsafeUninitializedCapacity: count) { output, written in
            valid = decodingTable.withUnsafeBufferPointer { table in
                decode(text, padding: padding, table: table, into: output)
            }
            written = valid ? count : 0
        }
        guard valid else { throw .invalidBase64 }
        return decoded
    }

    private static func decode(
        _ text: UnsafeRawBufferPointer,
        padding: Int,
        table: UnsafeBufferPointer<UInt8>,
        into output: UnsafeMutableBufferPointer<UInt8>
    ) -> Bool {
        // Invalid characters map to 0xFF; OR-ing the four lookups catches any of them in one test.
        let fullQuads = text.count / 4 - (padding > 0 ? 1 : 0)
        var input = 0
        var written = 0
        for _ in 0..<fullQuads {
            let a = table[Int(text[input])]
            let b = table[Int(text[input + 1])]
            let c = table[Int(text[input + 2])]
            let d = table[Int(text[input + 3])]
            guard (a | b | c | d) & 0x80 == 0 else { return false }
            let group = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
            output[written] = UInt8(truncatingIfNeeded: group >> 16)
            output[written + 1] = UInt8(truncatingIfNeeded: group >> 8)
            output[written + 2] = UInt8(truncatingIfNeeded: group)
            input += 4
            written += 3
        }
        guard padding > 0 else { return true }
        // The last quad: "xx==" or "xxx=", with the unused low bits zero (canonical form).
        let a = table[Int(text[input])]
        let b = table[Int(text[input + 1])]
        if padding == 2 {
            guard (a | b) & 0x80 == 0, b & 0x0F == 0 else { return false }
            output[written] = a << 2 | b >> 4
            return true
        }
        let c = table[Int(text[input + 2])]
        guard (a | b | c) & 0x80 == 0, c & 0x03 == 0 else { return false }
        output[written] = a << 2 | b >> 4
        output[written + 1] = b << 4 | c >> 2
        return true
    }

    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8
    )

    private static let decodingTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        return table
    }()
}
