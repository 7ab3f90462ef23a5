internal import CLibcrypto

/// Blobs sealed and opened a chunk at a time, in memory that does not grow with the input: the
/// bytes written are exactly those of ``EnvelopeBlob/seal(_:with:encryptedKeys:associatedData:layout:)-(_,_,_,_,_)``.
package enum BlobStream {
    /// AES-GCM's limit for one IV: 2^32 - 2 blocks of 16 bytes (NIST SP 800-38D).
    package static let maxPlaintextCount = (1 << 36) - 32

    /// Encrypts everything `source` holds into `sink` as one blob.
    /// - Parameter fixedIV: for known-answer tests only.
    /// - Throws: ``EnvelopeCryptoError/plaintextTooLong`` (checked before any work when the input
    ///   is a regular file), ``EnvelopeCryptoError/outputNotSeekable`` for layout A into a pipe,
    ///   ``EnvelopeCryptoError/invalidEncryptedKeys``, ``EnvelopeCryptoError/unsupportedLayout``,
    ///   ``EnvelopeCryptoError/fileAccess``.
    package static func seal(
        from source: any StreamSource,
        to sink: any StreamSink,
        with key: DataKey,
        encryptedKeys: [UInt8],
        associatedData: UnsafeRawBufferPointer,
        layout: BlobLayout,
        fixedIV: [UInt8]? = nil,
        progress: ((FileProgress) -> Void)? = nil
    ) throws(EnvelopeCryptoError) {
        guard layout.isWritable else { throw .unsupportedLayout }
        guard (1...EnvelopeBlob.maxEncryptedKeysCount).contains(encryptedKeys.count) else {
            throw .invalidEncryptedKeys
        }
        if let total = source.totalCount, total > maxPlaintextCount { throw .plaintextTooLong }
        if layout == .a, !sink.canOverwrite { throw .outputNotSeekable }
        var iv = fixedIV ?? [UInt8](repeating: 0, count: RandomIV.count)
        precondition(iv.count == RandomIV.count)
        if fixedIV == nil {
            try iv.withMutableBytes { (iv) throws(EnvelopeCryptoError) in try RandomIV.fill(iv.baseAddress!) }
        }
        let keysLength = LEB128.encode(UInt32(encryptedKeys.count))
        // Layout A's tag slot is zeros until the tag is known, then rewritten.
        var header: [UInt8] = []
        if layout == .a {
            header += iv
            header += [UInt8](repeating: 0, count: BlobLayout.tagCount)
        }
        header += keysLength
        header += encryptedKeys
        if layout == .b { header += iv }
        try header.withBytes { (header) throws(EnvelopeCryptoError) in try sink.write(header) }

        var tag = [UInt8](repeating: 0, count: BlobLayout.tagCount)
        try withChunk { (chunk) throws(EnvelopeCryptoError) in
            try key.storage.withContext { (context) throws(EnvelopeCryptoError) in
                try iv.withBytes { (iv) throws(EnvelopeCryptoError) in
                    try context.start(iv: iv, associatedData: associatedData, encrypting: true)
                }
                var total = 0
                while true {
                    let got = try source.read(into: chunk)
                    total += got
                    guard total <= maxPlaintextCount else { throw .plaintextTooLong }
                    let part = UnsafeMutableRawBufferPointer(rebasing: chunk[..<got])
                    try context.update(input: UnsafeRawBufferPointer(part), output: part)
                    try sink.write(UnsafeRawBufferPointer(part))
                    progress?(FileProgress(completedBytes: source.consumedCount, totalBytes: source.totalCount))
                    if got < chunk.count { break }
                }
                try tag.withMutableBytes { (tag) throws(EnvelopeCryptoError) in try context.finishSealing(tag: tag) }
            }
        }
        try tag.withBytes { (tag) throws(EnvelopeCryptoError) in
            if layout == .a {
                try sink.overwrite(tag, at: RandomIV.count)
            } else {
                try sink.write(tag)
            }
        }
        try sink.finish()
    }

    /// Runs `body` with a chunk buffer that is wiped and freed afterwards.
    static func withChunk<Result>(
        _ body: (UnsafeMutableRawBufferPointer) throws(EnvelopeCryptoError) -> Result
    ) throws(EnvelopeCryptoError) -> Result {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: streamChunkCount, alignment: 16)
        defer {
            OPENSSL_cleanse(chunk.baseAddress, chunk.count)
            chunk.deallocate()
        }
        return try body(chunk)
    }
}

/// The header of a streamed blob (layout, IV, wrapped keys and, in layout A, the tag), read from
/// the start of its source; the ciphertext is read by ``open(with:associatedData:to:progress:)``.
package final class BlobStreamReader {
    package let layout: BlobLayout
    package let encryptedKeys: [UInt8]
    private let iv: [UInt8]
    private let tag: [UInt8]?
    private let source: PrefixedSource

    /// The most a header takes: LEB128 (3 bytes), 64 KiB of wrapped keys, a 32-byte IV, the tag,
    /// and the tag of layout B after an empty ciphertext. A source longer than this has the
    /// same detected layout as its first this-many bytes.
    static let prefixCount = 3 + EnvelopeBlob.maxEncryptedKeysCount + 32 + 2 * BlobLayout.tagCount + 1

    /// Reads the header.
    /// - Parameter layout: the layout to read, or `nil` to detect it as ``EnvelopeBlob`` does.
    /// - Throws: ``EnvelopeCryptoError/malformedBlob``, ``EnvelopeCryptoError/invalidBase64`` for a
    ///   text source, ``EnvelopeCryptoError/fileAccess``.
    package init(source: any StreamSource, layout forced: BlobLayout? = nil) throws(EnvelopeCryptoError) {
        var prefix = [UInt8](repeating: 0, count: Self.prefixCount)
        let got = try prefix.withMutableBytes { (buffer) throws(EnvelopeCryptoError) in try source.read(into: buffer) }
        prefix.removeSubrange(got...)
        let parsed = prefix.withUnsafeBytes { raw -> (BlobLayout, BlobSections)? in
            guard let forced else { return LayoutDetection.detect(in: raw) }
            return forced.sections(in: raw).map { (forced, $0) }
        }
        guard let (layout, sections) = parsed else { throw .malformedBlob }
        self.layout = layout
        encryptedKeys = Array(prefix[sections.encryptedKeys])
        iv = Array(prefix[sections.iv])
        // Layout B: the ciphertext starts after the IV; its tag is the source's last 16 bytes.
        let ciphertextStart = layout == .b ? sections.iv.upperBound : sections.ciphertext.lowerBound
        tag = layout == .b ? nil : Array(prefix[sections.tag])
        self.source = PrefixedSource(prefix: Array(prefix[ciphertextStart...]), rest: source)
    }

    /// Decrypts the ciphertext into `sink`. What reaches the sink is unauthenticated until this
    /// returns: the caller must discard it when this throws.
    /// - Throws: ``EnvelopeCryptoError/authenticationFailed``, ``EnvelopeCryptoError/malformedBlob``,
    ///   ``EnvelopeCryptoError/fileAccess``.
    package func open(
        with key: DataKey,
        associatedData: UnsafeRawBufferPointer,
        to sink: any StreamSink,
        progress: ((FileProgress) -> Void)? = nil
    ) throws(EnvelopeCryptoError) {
        let holdback = tag == nil ? BlobLayout.tagCount : 0
        try BlobStream.withChunk { (chunk) throws(EnvelopeCryptoError) in
            try key.storage.withContext { (context) throws(EnvelopeCryptoError) in
                try iv.withBytes { (iv) throws(EnvelopeCryptoError) in
                    try context.start(iv: iv, associatedData: associatedData, encrypting: false)
                }
                var pending = 0
                var total = 0
                while true {
                    let space = UnsafeMutableRawBufferPointer(rebasing: chunk[pending...])
                    let got = try source.read(into: space)
                    let available = pending + got
                    let atEnd = got < space.count
                    // Keep the last bytes back until the end: in layout B they may be the tag.
                    let count = available - holdback
                    guard count >= 0 else { throw .malformedBlob }
                    total += count
                    guard total <= BlobStream.maxPlaintextCount else { throw .malformedBlob }
                    let part = UnsafeMutableRawBufferPointer(rebasing: chunk[..<count])
                    try context.update(input: UnsafeRawBufferPointer(part), output: part)
                    try sink.write(UnsafeRawBufferPointer(part))
                    progress?(FileProgress(completedBytes: source.consumedCount, totalBytes: source.totalCount))
                    let held = UnsafeRawBufferPointer(rebasing: chunk[count..<available])
                    if atEnd {
                        try sink.finish()
                        let expected = tag ?? Array(held)
                        try expected.withBytes { (expected) throws(EnvelopeCryptoError) in
                            try context.finishOpening(tag: expected)
                        }
                        return
                    }
                    chunk.baseAddress!.copyMemory(from: held.baseAddress!, byteCount: holdback)
                    pending = holdback
                }
            }
        }
    }
}

/// Serves bytes already read, then the rest of a source; counts progress as the source does.
final class PrefixedSource: StreamSource {
    private let prefix: [UInt8]
    private var offset = 0
    private let rest: any StreamSource

    init(prefix: [UInt8], rest: any StreamSource) {
        self.prefix = prefix
        self.rest = rest
    }

    var consumedCount: Int { rest.consumedCount }
    var totalCount: Int? { rest.totalCount }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(EnvelopeCryptoError) -> Int {
        let count = min(buffer.count, prefix.count - offset)
        if count > 0 {
            prefix.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
            offset += count
        }
        guard count < buffer.count else { return count }
        let more = try rest.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[count...]))
        return count + more
    }
}
