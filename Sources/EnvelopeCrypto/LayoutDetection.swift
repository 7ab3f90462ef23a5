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
/// 4. Layout A, if it fits. (A short tag such as `AB\0` is no evidence: about 0.07% of untagged
///    layout-A blobs show one under B or A', in their random IV, wrapped keys or ciphertext.)
/// 5. Otherwise B and A' both fit: the first whose wrapped keys start with any ASCII tag (2 to 32
///    printable characters and a NUL); else B.
///
/// A wrongly chosen layout cannot yield plaintext: it fails authentication. Callers who know the
/// layout (say, every blob came from the Go SDK) force it and skip detection.
enum LayoutDetection {
    /// What a candidate's wrapped keys say about the layout, weakest first.
    enum Evidence: Int, Comparable {
        /// No tag.
        case none
        /// An ASCII tag of 2 to 32 printable characters and a NUL: enough only to choose between B and A'.
        case tag
        /// A dotted name of 8 to 32 letters, digits, `.`, `-` or `_` and a NUL. For random bytes the
        /// chance is below 2^-26 (7.5e-9 for 8 characters, about a quarter of that for each added
        /// one), so it may outvote layout A.
        case serviceTag
        /// A ``KeysBlobPrefix``.
        case knownPrefix

        static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    static func detect(in bytes: UnsafeRawBufferPointer) -> (BlobLayout, BlobSections)? {
        var candidates: [(layout: BlobLayout, sections: BlobSections, evidence: Evidence)] = []
        for layout in BlobLayout.allCases {
            guard let sections = layout.sections(in: bytes) else { continue }
            let keys = UnsafeRawBufferPointer(rebasing: bytes[sections.encryptedKeys])
            candidates.append((layout, sections, evidence(in: keys)))
        }
        guard candidates.count > 1 else { return candidates.first.map { ($0.layout, $0.sections) } }
        let chosen =
            candidates.first { $0.evidence == .knownPrefix }
            ?? candidates.first { $0.evidence == .serviceTag }
            ?? candidates.first { $0.layout == .a }
            ?? candidates.first { $0.evidence == .tag }
            ?? candidates[0]
        return (chosen.layout, chosen.sections)
    }

    /// Reads the start of a candidate's wrapped keys in one pass.
    static func evidence(in keys: UnsafeRawBufferPointer) -> Evidence {
        for prefix in KeysBlobPrefix.known where keys.count >= prefix.count {
            var index = 0
            while index < prefix.count, keys[index] == prefix[index] { index += 1 }
            if index == prefix.count { return .knownPrefix }
        }
        var hasDot = false
        var onlyNameCharacters = true
        for index in 0..<min(keys.count, 33) {
            let byte = keys[index]
            if byte == 0 {
                guard index >= 2 else { return .none }
                return index >= 8 && hasDot && onlyNameCharacters ? .serviceTag : .tag
            }
            guard (0x21...0x7E).contains(byte) else { return .none }
            switch byte {
            case UInt8(ascii: "."): hasDot = true
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                break
            default: onlyNameCharacters = false
            }
        }
        return .none
    }
}
