internal import CBase64

/// Encodes what is written to it as standard base64 into another sink: the text form of a blob,
/// streamed. Layout A's tag rewrite re-encodes the base64 groups that hold it.
package final class Base64Sink: StreamSink {
    private let inner: any StreamSink
    private let lineEnding: Bool
    /// Up to 2 bytes that do not fill a 3-byte group yet.
    private var carry: [UInt8] = []
    /// The first bytes written, kept so a rewrite inside them can re-encode whole groups.
    private var head: [UInt8] = []
    private static let headCount = 48
    private var encoded: UnsafeMutableRawBufferPointer
    private static let sliceCount = 3 * 65_536

    /// - Parameter lineEnding: end the text with a newline, as the CLI prints it.
    package init(_ inner: any StreamSink, lineEnding: Bool) {
        self.inner = inner
        self.lineEnding = lineEnding
        encoded = .allocate(byteCount: Self.sliceCount / 3 * 4, alignment: 16)
    }

    deinit { encoded.deallocate() }

    package var canOverwrite: Bool { inner.canOverwrite }

    package func write(_ bytes: UnsafeRawBufferPointer) throws(EnvelopeCryptoError) {
        if head.count < Self.headCount { head += bytes.prefix(Self.headCount - head.count) }
        var rest = bytes[...]
        if !carry.isEmpty {
            let taken = rest.prefix(3 - carry.count)
            carry += taken
            rest = rest.dropFirst(taken.count)
            guard carry.count == 3 else { return }
            try carry.withBytes { (group) throws(EnvelopeCryptoError) in try emit(group) }
            carry = []
        }
        while rest.count >= 3 {
            let slice = rest.prefix(min(Self.sliceCount, rest.count / 3 * 3))
            try emit(UnsafeRawBufferPointer(rebasing: slice))
            rest = rest.dropFirst(slice.count)
        }
        carry += rest
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws(EnvelopeCryptoError) {
        cbase64_encode(bytes.baseAddress, bytes.count, encoded.baseAddress)
        try inner.write(UnsafeRawBufferPointer(rebasing: encoded[..<Base64.encodedCount(bytes.count)]))
    }

    package func overwrite(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(EnvelopeCryptoError) {
        let firstGroup = offset / 3
        let endGroup = (offset + bytes.count + 2) / 3
        precondition(endGroup * 3 <= head.count, "only the blob's header can be rewritten")
        head.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        let groups = Array(head[(firstGroup * 3)..<(endGroup * 3)])
        let text = [UInt8](unsafeUninitializedCapacity: groups.count / 3 * 4) { output, written in
            groups.withUnsafeBytes { cbase64_encode($0.baseAddress, $0.count, output.baseAddress) }
            written = groups.count / 3 * 4
        }
        try text.withBytes { (text) throws(EnvelopeCryptoError) in try inner.overwrite(text, at: firstGroup * 4) }
    }

    package func finish() throws(EnvelopeCryptoError) {
        if !carry.isEmpty {
            try carry.withBytes { (group) throws(EnvelopeCryptoError) in try emit(group) }
            carry = []
        }
        if lineEnding {
            let newline: [UInt8] = [0x0A]
            try newline.withBytes { (newline) throws(EnvelopeCryptoError) in try inner.write(newline) }
        }
        try inner.finish()
    }
}

/// Decodes strict standard base64 read from a descriptor: the text form of a blob, streamed.
/// ASCII whitespace is allowed only before and after the text (the newline `echo` leaves), as
/// the CLI has always read blobs; anything else that is not strict base64 is
/// ``EnvelopeCryptoError/invalidBase64``.
package final class Base64Source: StreamSource {
    private let inner: DescriptorSource
    private var text: UnsafeMutableRawBufferPointer
    private var decoded: UnsafeMutableRawBufferPointer
    private var decodedStart = 0
    private var decodedEnd = 0
    /// Up to 3 characters that do not fill a 4-character quad yet.
    private var carry: [UInt8] = []
    private var started = false
    private var trailing = false
    private var padded = false
    private var ended = false

    package init(_ inner: DescriptorSource) {
        self.inner = inner
        text = .allocate(byteCount: 4 * 65_536, alignment: 16)
        decoded = .allocate(byteCount: 3 * 65_536 + 3, alignment: 16)
    }

    deinit {
        text.deallocate()
        decoded.deallocate()
    }

    package var consumedCount: Int { inner.consumedCount }
    package var totalCount: Int? { inner.totalCount }

    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(EnvelopeCryptoError) -> Int {
        var filled = 0
        while filled < buffer.count {
            if decodedStart == decodedEnd {
                if ended { break }
                try refill()
                continue
            }
            let count = min(buffer.count - filled, decodedEnd - decodedStart)
            (buffer.baseAddress! + filled).copyMemory(from: decoded.baseAddress! + decodedStart, byteCount: count)
            decodedStart += count
            filled += count
        }
        return filled
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }

    /// Reads the next block of text and decodes its whole quads.
    private func refill() throws(EnvelopeCryptoError) {
        decodedStart = 0
        decodedEnd = 0
        let got = try inner.read(into: text)
        if got < text.count { ended = true }
        var start = 0
        var end = got
        if !started {
            while start < end, Self.isWhitespace(text[start]) { start += 1 }
            started = start < end
        }
        // Whitespace may only end the text: after it, nothing but more whitespace.
        if trailing {
            guard text[start..<end].allSatisfy(Self.isWhitespace) else { throw .invalidBase64 }
            end = start
        }
        while end > start, Self.isWhitespace(text[end - 1]) {
            end -= 1
            trailing = true
        }
        if start < end {
            guard !padded else { throw .invalidBase64 }
            if !carry.isEmpty {
                let taken = min(4 - carry.count, end - start)
                carry += UnsafeRawBufferPointer(rebasing: text[start..<(start + taken)])
                start += taken
                if carry.count == 4 {
                    try carry.withBytes { (quad) throws(EnvelopeCryptoError) in try decode(quad) }
                    carry = []
                }
            }
            let whole = (end - start) / 4 * 4
            if whole > 0 {
                guard !padded else { throw .invalidBase64 }
                try decode(UnsafeRawBufferPointer(rebasing: text[start..<(start + whole)]))
            }
            carry += UnsafeRawBufferPointer(rebasing: text[(start + whole)..<end])
        }
        if ended, !carry.isEmpty { throw .invalidBase64 }
    }

    /// Decodes whole quads, appending to `decoded`. A quad with `=` must be the text's last.
    private func decode(_ quads: UnsafeRawBufferPointer) throws(EnvelopeCryptoError) {
        guard !padded else { throw .invalidBase64 }
        var written = 0
        guard cbase64_decode(quads.baseAddress!, quads.count, decoded.baseAddress! + decodedEnd, &written) else {
            throw .invalidBase64
        }
        if written < quads.count / 4 * 3 { padded = true }
        decodedEnd += written
    }
}
