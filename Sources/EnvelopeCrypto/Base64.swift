internal import CBase64

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

    /// Decodes strict standard base64 given as ASCII bytes (text read from a file, say), with no
    /// `String` made in between.
    /// - Throws: ``EnvelopeCryptoError/invalidBase64`` for anything but strict standard base64.
    public static func decode(ascii text: UnsafeRawBufferPointer) throws(EnvelopeCryptoError) -> [UInt8] {
        try decode(text)
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
        cbase64_encode(bytes.baseAddress, bytes.count, output)
    }

    /// The encoding kernels: `encode` uses the fastest this CPU has.
    enum Kernel: CaseIterable {
        case scalar, avx2, avx512VBMI
    }

    /// Encodes with no kernel faster than `kernel`, so tests reach each one on a CPU that has a faster one;
    /// nil when this CPU or build lacks `kernel`.
    static func encode(_ bytes: UnsafeRawBufferPointer, kernel: Kernel) -> String? {
        let count = encodedCount(bytes.count)
        let code: cbase64_kernel =
            switch kernel {
            case .scalar: CBASE64_SCALAR
            case .avx2: CBASE64_AVX2
            case .avx512VBMI: CBASE64_AVX512VBMI
            }
        var available = true
        let encoded = String(unsafeUninitializedCapacity: max(count, 1)) { output in
            available = cbase64_encode_with(code, bytes.baseAddress, bytes.count, output.baseAddress!)
            return available ? count : 0
        }
        return available ? encoded : nil
    }

    /// Decodes raw ASCII.
    @usableFromInline
    static func decode(_ text: UnsafeRawBufferPointer) throws(EnvelopeCryptoError) -> [UInt8] {
        guard text.count % 4 == 0 else { throw .invalidBase64 }
        guard !text.isEmpty else { return [] }
        // The decoded length is at most 3 bytes per quad; the C decoder reports how many it wrote.
        var valid = false
        let decoded = [UInt8](unsafeUninitializedCapacity: text.count / 4 * 3) { output, written in
            var count = 0
            valid = cbase64_decode(text.baseAddress!, text.count, output.baseAddress!, &count)
            written = valid ? count : 0
        }
        guard valid else { throw .invalidBase64 }
        return decoded
    }
}
