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
/// 1. Structure: keep the layouts (in the order A, B, A') whose lengths all fit (see
///    ``BlobLayout/sections(in:)``). None: the blob is malformed. One: that layout.
/// 2. Known key service: the first candidate whose wrapped keys start with a ``KeysBlobPrefix``.
/// 3. Tagged keys: the first candidate whose wrapped keys start with an ASCII tag of 2 to 32
///    printable characters and a NUL (the shape of every key service's blob seen so far).
/// 4. Otherwise A, the layout most SDKs write.
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
        if let tagged = candidates.first(where: { startsWithTag(keys($0)) }) { return tagged }
        return candidates.first
    }

    private static func startsWithTag(_ keys: UnsafeRawBufferPointer) -> Bool {
        let tagRange = 2...32
        guard let end = keys.prefix(tagRange.upperBound + 1).firstIndex(of: 0), tagRange.contains(end) else {
            return false
        }
        return keys[..<end].allSatisfy { (0x21...0x7E).contains($0) }
    }
}
