// libFuzzer harness for the blob parser, layout detection, strict base64 and LEB128.
//
// Fuzz/run compiles this file into one module with Sources/EnvelopeCrypto, so internal API (the section finder,
// the layout detector, the raw-buffer base64 decoder) is reachable and can be checked against the public one.
// Every broken invariant ends in `fatalError`: libFuzzer reports it as a crash and saves the input.

/// A key that none of the seeds was sealed with. Mutation cannot forge a GCM tag, so a blob that opens under it
/// means the parser handed libcrypto the wrong bytes or the tag was not checked.
private let unrelatedKey = try! DataKey(copying: [UInt8](repeating: 0x5A, count: DataKey.byteCount))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    // Entry points that take raw bytes get libFuzzer's own buffer: it is allocated at exactly `size` bytes, so an
    // over-read lands in AddressSanitizer's redzone rather than in spare array capacity.
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    let bytes = [UInt8](raw)
    checkBlobParsing(raw, bytes)
    checkBase64(raw, bytes)
    // Offset 0 is where layout B keeps its length; the last few offsets (and one past the end) make the decoder
    // run out of bytes mid-value.
    checkLEB128(raw, at: 0)
    for offset in max(1, size - LEB128.maxByteCount)...max(1, size) {
        checkLEB128(raw, at: offset)
    }
    checkLEB128RoundTrip(raw)
    return 0
}

/// `precondition` traps without its message in -O builds; `fatalError` keeps it, so the crash log names the
/// invariant that broke.
private func invariant(
    _ condition: Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition { fatalError(message(), file: file, line: line) }
}

// MARK: - Blobs

private func checkBlobParsing(_ raw: UnsafeRawBufferPointer, _ bytes: [UInt8]) {
    var candidates: [(blob: EnvelopeBlob, sections: BlobSections)] = []
    for layout in BlobLayout.allCases {
        let sections = layout.sections(in: raw)
        let blob = parse(bytes, layout: layout)
        invariant((sections == nil) == (blob == nil), "sections(in:) and init(parsing:) disagree on \(layout)")
        guard let sections, let blob else { continue }
        checkSections(sections, of: layout, in: raw)
        checkBlob(blob, layout: layout, sections: sections, bytes: bytes)
        candidates.append((blob, sections))
    }

    // Detection must pick one of the layouts that parse, by the documented rule, and agree with the forced parse.
    let detected = parse(bytes, layout: nil)
    let detectedRaw = LayoutDetection.detect(in: raw)
    guard let expected = expectedDetection(candidates.map(\.blob)) else {
        invariant(detected == nil && detectedRaw == nil, "detection accepted bytes that no layout parses")
        return
    }
    let candidate = candidates.first { $0.blob.layout == expected }!
    invariant(detected == candidate.blob, "detection chose \(detected?.layout as Any), expected \(expected)")
    invariant(
        detectedRaw?.0 == expected && detectedRaw?.1 == candidate.sections,
        "LayoutDetection.detect disagrees with init(parsing:)"
    )
}

/// `init(parsing:)` may only fail with `malformedBlob`: any other error would be an oracle on where parsing stopped.
private func parse(_ bytes: [UInt8], layout: BlobLayout?) -> EnvelopeBlob? {
    do {
        return try EnvelopeBlob(parsing: bytes, layout: layout)
    } catch let error as EnvelopeCryptoError where error == .malformedBlob {
        return nil
    } catch {
        fatalError("parsing threw \(error), expected malformedBlob")
    }
}

/// The sections must tile the input exactly, in the layout's order, with a minimal LEB128 length in front of the
/// wrapped keys that matches their count. Checked before any section's bytes are read.
private func checkSections(_ sections: BlobSections, of layout: BlobLayout, in raw: UnsafeRawBufferPointer) {
    let keys = sections.encryptedKeys
    invariant((1...EnvelopeBlob.maxEncryptedKeysCount).contains(keys.count), "wrapped keys: \(keys.count) bytes")
    invariant(sections.iv.count == layout.ivCount, "IV of \(sections.iv.count) bytes in layout \(layout)")
    invariant(sections.tag.count == BlobLayout.tagCount, "tag of \(sections.tag.count) bytes")

    let lengthPrefix: Range<Int>
    let parts: [Range<Int>]
    switch layout {
    case .a, .legacyA:
        invariant(sections.tag.upperBound <= keys.lowerBound, "wrapped keys overlap the tag")
        lengthPrefix = sections.tag.upperBound..<keys.lowerBound
        parts = [sections.iv, sections.tag, lengthPrefix, keys, sections.ciphertext]
    case .b:
        invariant(keys.lowerBound >= 0, "wrapped keys start before the blob")
        lengthPrefix = 0..<keys.lowerBound
        parts = [lengthPrefix, keys, sections.iv, sections.ciphertext, sections.tag]
    }
    invariant(parts.first!.lowerBound == 0 && parts.last!.upperBound == raw.count, "sections do not span the blob")
    for (part, next) in zip(parts, parts.dropFirst()) {
        invariant(part.upperBound == next.lowerBound, "sections \(part) and \(next) are not adjacent")
    }

    let expectedPrefix = LEB128.encode(UInt32(keys.count))
    invariant(
        UnsafeRawBufferPointer(rebasing: raw[lengthPrefix]).elementsEqual(expectedPrefix),
        "the length in front of the wrapped keys is not the minimal encoding of \(keys.count)"
    )
}

private func checkBlob(_ blob: EnvelopeBlob, layout: BlobLayout, sections: BlobSections, bytes: [UInt8]) {
    invariant(blob.layout == layout && blob.bytes == bytes, "the blob does not keep its layout and bytes")
    invariant(
        blob.iv == Array(bytes[sections.iv]) && blob.tag == Array(bytes[sections.tag])
            && blob.encryptedKeys == Array(bytes[sections.encryptedKeys])
            && blob.ciphertextCount == sections.ciphertext.count,
        "the blob's parts are not the bytes of its sections"
    )

    // Parsing is a function of the bytes: reading the blob's own bytes (or its base64) again gives the same parts.
    guard let again = parse(blob.bytes, layout: layout), again == blob,
        again.iv == blob.iv, again.tag == blob.tag, again.encryptedKeys == blob.encryptedKeys,
        again.ciphertextCount == blob.ciphertextCount
    else { fatalError("re-parsing a \(layout) blob gave different parts") }
    guard (try? EnvelopeBlob(base64Encoded: blob.base64EncodedString(), layout: layout)) == blob else {
        fatalError("a \(layout) blob does not survive its base64 form")
    }

    do {
        _ = try blob.open(with: unrelatedKey)
        fatalError("a \(layout) blob opened under a key it was not sealed with")
    } catch let error as EnvelopeCryptoError where error == .authenticationFailed {
        // The only acceptable outcome.
    } catch {
        fatalError("open threw \(error), expected authenticationFailed")
    }
}

/// LayoutDetection's documented rule, restated over the public API: one candidate wins outright; otherwise the
/// first (in A, B, A' order) whose wrapped keys carry a known key-service prefix, then the first whose keys start
/// with a tag of 2 to 32 printable ASCII characters and a NUL, then the first.
private func expectedDetection(_ candidates: [EnvelopeBlob]) -> BlobLayout? {
    let knownPrefixes = [KeysBlobPrefix.workOS, KeysBlobPrefix.localVault]
    func tag(_ keys: [UInt8]) -> ArraySlice<UInt8>? {
        guard let nul = keys.prefix(33).firstIndex(of: 0), nul >= 2 else { return nil }
        return keys[..<nul].allSatisfy { (0x21...0x7E).contains($0) } ? keys[..<nul] : nil
    }
    func isServiceTag(_ tag: ArraySlice<UInt8>) -> Bool {
        tag.count >= 8 && tag.contains(UInt8(ascii: "."))
            && tag.allSatisfy { byte in
                let character = Character(Unicode.Scalar(byte))
                return character.isLetter || character.isNumber || "._-".contains(character)
            }
    }
    let known = candidates.first { blob in knownPrefixes.contains { blob.encryptedKeys.starts(with: $0) } }
    let serviceTagged = candidates.first { tag($0.encryptedKeys).map(isServiceTag) ?? false }
    let a = candidates.first { $0.layout == .a }
    let tagged = candidates.first { tag($0.encryptedKeys) != nil }
    return (known ?? serviceTagged ?? a ?? tagged ?? candidates.first)?.layout
}

// MARK: - Base64

private func checkBase64(_ raw: UnsafeRawBufferPointer, _ bytes: [UInt8]) {
    // Any bytes encode, and decode back to themselves.
    let encoded = Base64.encode(raw)
    invariant(encoded.utf8.count == Base64.encodedCount(raw.count), "encoding of \(raw.count) bytes has wrong length")
    guard (try? Base64.decode(encoded)) == bytes else { fatalError("decode(encode(bytes)) != bytes") }

    // The input as text. Strict base64 accepts one encoding per byte string, so whatever decodes must encode back
    // to exactly the input, and the public String entry points must agree with the raw decoder.
    let decoded: [UInt8]
    do {
        decoded = try Base64.decode(raw)
    } catch {
        invariant(error == .invalidBase64, "base64 decoding threw \(error)")
        if let text = String(validating: bytes, as: UTF8.self) {
            invariant((try? Base64.decode(text)) == nil, "the String decoder accepted what the raw one rejected")
        }
        return
    }
    invariant(Array(Base64.encode(decoded).utf8) == bytes, "accepted base64 that is not the canonical encoding")
    let text = String(decoding: bytes, as: UTF8.self)
    invariant((try? Base64.decode(text)) == decoded, "the String decoder disagrees with the raw one")
    invariant(
        (try? EnvelopeBlob(base64Encoded: text)) == (try? EnvelopeBlob(parsing: decoded)),
        "init(base64Encoded:) disagrees with decoding then parsing"
    )
}

// MARK: - LEB128

/// Compares `decode` with a slow reference: up to 5 bytes, the value must fit in 32 bits, and the bytes must be
/// exactly what `encode` writes for it (so `80 00` for 0 and other padded forms are rejected).
private func checkLEB128(_ raw: UnsafeRawBufferPointer, at offset: Int) {
    var expected: (value: UInt32, byteCount: Int)?
    var value: UInt64 = 0
    for index in 0..<LEB128.maxByteCount where offset + index < raw.count {
        let byte = raw[offset + index]
        value |= UInt64(byte & 0x7F) << (7 * UInt64(index))
        guard byte & 0x80 == 0 else { continue }
        if let value = UInt32(exactly: value),
            UnsafeRawBufferPointer(rebasing: raw[offset...(offset + index)]).elementsEqual(LEB128.encode(value))
        {
            expected = (value, index + 1)
        }
        break
    }

    let decoded = LEB128.decode(raw, at: offset)
    invariant(
        decoded?.value == expected?.value && decoded?.byteCount == expected?.byteCount,
        "LEB128.decode at \(offset) gave \(decoded as Any), expected \(expected as Any)"
    )
    if let decoded {
        invariant(LEB128.byteCount(of: decoded.value) == decoded.byteCount, "byteCount(of:) disagrees with decode")
    }
}

/// Every 32-bit value (here: the first four input bytes) encodes to its byte count and decodes back.
private func checkLEB128RoundTrip(_ raw: UnsafeRawBufferPointer) {
    let value = raw.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    let encoded = LEB128.encode(value)
    invariant(encoded.count == LEB128.byteCount(of: value), "encode(\(value)) has the wrong length")
    let decoded = encoded.withUnsafeBytes { LEB128.decode($0, at: 0) }
    invariant(
        decoded?.value == value && decoded?.byteCount == encoded.count,
        "LEB128 round trip of \(value) gave \(decoded as Any)"
    )
}
