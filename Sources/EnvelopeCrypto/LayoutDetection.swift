/// Prefixes that wrapped-keys blobs from known key services start with.
public enum KeysBlobPrefix {
    /// WorkOS-issued `encrypted_keys`: ASCII `WOS.EKM.v1` and a NUL (observed, not a contract).
    public static let workOS: [UInt8] = Array("WOS.EKM.v1\0".utf8)
    /// `encrypted_keys` issued by this project's LocalVault store: ASCII `LVS.EKM.v1` and a NUL.
    public static let localVault: [UInt8] = Array("LVS.EKM.v1\0".utf8)

    static let known = [workOS, localVault]
}

/// Picks the layout of a blob whose layout the caller did not force.
///
/// Layout A is what most SDKs write, so a blob that fits A is read as A unless another layout's
/// wrapped keys carry strong evidence, a prefix random bytes almost never form:
///
/// 1. Structure: keep the layouts (in the order A, B, A') whose lengths all fit (see
///    ``BlobLayout/sections(in:)``). None: the blob is malformed. One: that layout.
/// 2. Known key service: the first candidate whose wrapped keys start with a ``KeysBlobPrefix``.
/// 3. Key-service tag: the first candidate whose wrapped keys start with a dotted name of 8 to 32
///    characters (`A-Z a-z 0-9 . - _`, at least one `.`) and a NUL, as `TEST.EKM\0` or
///    `ACME.KMS.v2\0`. Random bytes take that shape about once in 10^8.
/// 4. Layout A, if it fits. (A short tag such as `AB\0` is no evidence: in an untagged layout-A
///    blob the IV and tag are random bytes, and about 0.07% of them read as one under B or A'.)
/// 5. Otherwise B and A' both fit: the first whose wrapped keys start with any ASCII tag (2 to 32
///    printable characters and a NUL); else B.
///
/// A wrongly chosen layout cannot yield plaintext: it fails authentication. Callers who know the
/// layout (say, every blob came from the Go SDK) force it and skip detection.
enum LayoutDetection {
    static func detect(in bytes: UnsafeRawBufferPointer) -> (BlobLayout, BlobSections)? {
        var candidates: [(BlobLayout, BlobSections)] = []
        for layout in BlobLayout.allCases {
            if let sections = layout.sections(in: bytes) { candidates.append((layout, sections)) }
        }
        guard candidates.count > 1 else { return candidates.first }
        func keys(_ candidate: (BlobLayout, BlobSections)) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: bytes[candidate.1.encryptedKeys])
        }
        if let known = candidates.first(where: { candidate in
            KeysBlobPrefix.known.contains { keys(candidate).starts(with: $0) }
        }) {
            return known
        }
        if let tagged = candidates.first(where: { startsWithServiceTag(keys($0)) }) { return tagged }
        if let a = candidates.first(where: { $0.0 == .a }) { return a }
        if let tagged = candidates.first(where: { startsWithTag(keys($0)) }) { return tagged }
        return candidates.first
    }

    /// The length of the ASCII tag (printable characters up to a NUL, 2 to 32 of them) that
    /// `keys` starts with, or nil.
    private static func tagCount(_ keys: UnsafeRawBufferPointer) -> Int? {
        let tagRange = 2...32
        guard let end = keys.prefix(tagRange.upperBound + 1).firstIndex(of: 0), tagRange.contains(end),
            keys[..<end].allSatisfy({ (0x21...0x7E).contains($0) })
        else { return nil }
        return end
    }

    /// Any ASCII tag: weak evidence, enough only to choose between B and A'.
    static func startsWithTag(_ keys: UnsafeRawBufferPointer) -> Bool { tagCount(keys) != nil }

    /// A key-service tag: 8 to 32 letters, digits, `.`, `-` or `_`, at least one `.`, then a NUL.
    /// For random bytes the chance is below 2^-26 per candidate (7.5e-9 for 8 characters, a
    /// quarter of that for each added one), so it may outvote layout A.
    static func startsWithServiceTag(_ keys: UnsafeRawBufferPointer) -> Bool {
        guard let count = tagCount(keys), count >= 8 else { return false }
        let name = keys[..<count]
        return name.contains(UInt8(ascii: "."))
            && name.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
                    true
                default: false
                }
            }
    }
}
