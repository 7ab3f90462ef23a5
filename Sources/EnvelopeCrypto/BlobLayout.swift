/// The byte layouts that the official WorkOS SDKs use for a client-side encrypted blob.
///
/// No official SDK reads another's layout; ``EnvelopeBlob`` reads all three and writes ``a``
/// (the default) or ``b``. See the `BlobLayouts` article for the bytes and the detection rule.
public enum BlobLayout: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `IV(12) | tag(16) | LEB128(len(keys)) | keys | ciphertext`: Python, Node >= 7.50.1, Ruby,
    /// Kotlin, PHP, .NET and Go 4.42 to 6.5. The default.
    case a
    /// `LEB128(len(keys)) | keys | IV(12) | ciphertext | tag(16)`: Go >= 7.0 and the Apple-only
    /// Swift SDK (workos-ios).
    case b
    /// Layout ``a`` with a 32-byte IV: Node 7.42 to 7.50 and Go 4.35 to 4.41. Read only.
    case legacyA

    /// The IV length in bytes.
    public var ivCount: Int { self == .legacyA ? 32 : 12 }

    /// Whether blobs can be written in this layout (the legacy one is read only).
    public var isWritable: Bool { self != .legacyA }

    public var description: String {
        switch self {
        case .a: "A"
        case .b: "B"
        case .legacyA: "A'"
        }
    }
}

/// Where each part of a blob lies, as offsets into its bytes.
struct BlobSections: Hashable, Sendable {
    var iv: Range<Int>
    var tag: Range<Int>
    var encryptedKeys: Range<Int>
    var ciphertext: Range<Int>
}

extension BlobLayout {
    static let tagCount = 16

    /// Checks that `bytes` is structurally a blob of this layout: every length fits in the bytes
    /// left, the LEB128 length is strict and the wrapped keys are 1 to the cap bytes long.
    func sections(in bytes: UnsafeRawBufferPointer) -> BlobSections? {
        switch self {
        case .a, .legacyA:
            let tagStart = ivCount
            let lengthStart = tagStart + Self.tagCount
            guard let (keysStart, keysEnd) = Self.encryptedKeys(in: bytes, lengthAt: lengthStart) else { return nil }
            return BlobSections(
                iv: 0..<tagStart,
                tag: tagStart..<lengthStart,
                encryptedKeys: keysStart..<keysEnd,
                ciphertext: keysEnd..<bytes.count
            )
        case .b:
            guard let (keysStart, keysEnd) = Self.encryptedKeys(in: bytes, lengthAt: 0),
                bytes.count - keysEnd >= ivCount + Self.tagCount
            else { return nil }
            let ciphertextStart = keysEnd + ivCount
            let tagStart = bytes.count - Self.tagCount
            return BlobSections(
                iv: keysEnd..<ciphertextStart,
                tag: tagStart..<bytes.count,
                encryptedKeys: keysStart..<keysEnd,
                ciphertext: ciphertextStart..<tagStart
            )
        }
    }

    private static func encryptedKeys(in bytes: UnsafeRawBufferPointer, lengthAt offset: Int) -> (Int, Int)? {
        guard let (length, lengthCount) = LEB128.decode(bytes, at: offset),
            length >= 1, length <= EnvelopeBlob.maxEncryptedKeysCount
        else { return nil }
        let start = offset + lengthCount
        guard bytes.count - start >= Int(length) else { return nil }
        return (start, start + Int(length))
    }
}
