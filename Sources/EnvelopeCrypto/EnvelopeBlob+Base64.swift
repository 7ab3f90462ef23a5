extension EnvelopeBlob {
    /// Encrypts UTF-8 text and returns the blob as standard base64, the form the official SDKs
    /// return and store: the same as ``seal(_:with:encryptedKeys:associatedData:layout:)-(String,_,_,_,_)``
    /// followed by ``base64EncodedString()``, without the binary blob in between. Large messages
    /// are encrypted a slice at a time into a small buffer and encoded from there, so the only
    /// allocation the size of the message is the returned text.
    /// - Throws: ``EnvelopeCryptoError/invalidEncryptedKeys`` or ``EnvelopeCryptoError/unsupportedLayout``.
    public static func sealedBase64(
        _ plaintext: String,
        with key: DataKey,
        encryptedKeys: [UInt8],
        associatedData: String? = nil,
        layout: BlobLayout = .a
    ) throws -> String {
        try withUTF8(of: plaintext, associatedData) { plaintext, associatedData in
            try sealedBase64(
                plaintext,
                with: key,
                encryptedKeys: encryptedKeys,
                associatedData: associatedData,
                layout: layout,
                iv: nil
            )
        }
    }

    /// ``sealedBase64(_:with:encryptedKeys:associatedData:layout:)`` with a caller-chosen IV, for
    /// tests that compare it with the two-step form.
    package static func sealedBase64(
        _ plaintext: [UInt8],
        with key: DataKey,
        encryptedKeys: [UInt8],
        layout: BlobLayout,
        fixedIV: [UInt8]
    ) throws -> String {
        precondition(fixedIV.count == RandomIV.count)
        return try plaintext.withUnsafeBytes { plaintext in
            try fixedIV.withUnsafeBytes { iv in
                try sealedBase64(
                    plaintext,
                    with: key,
                    encryptedKeys: encryptedKeys,
                    associatedData: UnsafeRawBufferPointer(start: nil, count: 0),
                    layout: layout,
                    iv: iv
                )
            }
        }
    }

    /// Ciphertext is produced and encoded this many bytes at a time: a multiple of 3, so that each
    /// slice ends on a whole base64 group, and small enough to stay in the CPU's cache.
    static let base64SliceCount = 3 * 16_384

    static func sealedBase64(
        _ plaintext: UnsafeRawBufferPointer,
        with key: DataKey,
        encryptedKeys: [UInt8],
        associatedData: UnsafeRawBufferPointer,
        layout: BlobLayout,
        iv fixedIV: UnsafeRawBufferPointer?
    ) throws -> String {
        guard plaintext.count > base64SliceCount else {
            return try seal(
                plaintext,
                with: key,
                encryptedKeys: encryptedKeys,
                associatedData: associatedData,
                layout: layout,
                iv: fixedIV
            ).base64EncodedString()
        }
        guard layout.isWritable else { throw EnvelopeCryptoError.unsupportedLayout }
        guard (1...maxEncryptedKeysCount).contains(encryptedKeys.count) else {
            throw EnvelopeCryptoError.invalidEncryptedKeys
        }

        // The blob is front | ciphertext | trailer. Layout A: front = IV, tag, length, keys (the
        // tag is written last) and no trailer. Layout B: front = length, keys, IV; trailer = tag.
        // `front` also takes the first ciphertext bytes that complete its last base64 group, and
        // for B `trailer` takes the ciphertext bytes of the last incomplete group, so every slice
        // in between encodes on its own.
        let lengthCount = LEB128.byteCount(of: UInt32(encryptedKeys.count))
        let headerCount = RandomIV.count + lengthCount + encryptedKeys.count + (layout == .a ? BlobLayout.tagCount : 0)
        let lead = (3 - headerCount % 3) % 3
        let trailerTagCount = layout == .b ? BlobLayout.tagCount : 0
        let streamEnd = layout == .b ? lead + (plaintext.count - lead) / 3 * 3 : plaintext.count
        let total = headerCount + plaintext.count + trailerTagCount
        var front = [UInt8](repeating: 0, count: headerCount + lead)
        var trailer = [UInt8](repeating: 0, count: plaintext.count - streamEnd + trailerTagCount)

        return try String(unsafeUninitializedCapacity: Base64.encodedCount(total)) { output in
            let text = UnsafeMutableRawPointer(output.baseAddress!)
            try front.withUnsafeMutableBytes { front in
                try trailer.withUnsafeMutableBytes { trailer in
                    let ivStart = layout == .a ? 0 : lengthCount + encryptedKeys.count
                    let iv = UnsafeMutableRawBufferPointer(rebasing: front[ivStart..<(ivStart + RandomIV.count)])
                    if let fixedIV { iv.copyMemory(from: fixedIV) } else { try RandomIV.fill(iv.baseAddress!) }
                    let lengthStart = layout == .a ? RandomIV.count + BlobLayout.tagCount : 0
                    LEB128.write(UInt32(encryptedKeys.count), to: front.baseAddress! + lengthStart)
                    UnsafeMutableRawBufferPointer(rebasing: front[(lengthStart + lengthCount)...])
                        .copyBytes(from: encryptedKeys)
                    try key.storage.withContext { (context) throws(EnvelopeCryptoError) in
                        try context.start(
                            iv: UnsafeRawBufferPointer(iv),
                            associatedData: associatedData,
                            encrypting: true
                        )
                        try context.update(
                            input: UnsafeRawBufferPointer(rebasing: plaintext[..<lead]),
                            output: UnsafeMutableRawBufferPointer(rebasing: front[headerCount...])
                        )
                        var written = Base64.encodedCount(front.count)
                        try withUnsafeTemporaryAllocation(byteCount: base64SliceCount, alignment: 64) {
                            (slice) throws(EnvelopeCryptoError) in
                            var offset = lead
                            while offset < streamEnd {
                                let count = min(base64SliceCount, streamEnd - offset)
                                let ciphertext = UnsafeMutableRawBufferPointer(rebasing: slice[..<count])
                                try context.update(
                                    input: UnsafeRawBufferPointer(rebasing: plaintext[offset..<(offset + count)]),
                                    output: ciphertext
                                )
                                Base64.encode(UnsafeRawBufferPointer(ciphertext), into: text + written)
                                written += Base64.encodedCount(count)
                                offset += count
                            }
                        }
                        let tail = plaintext.count - streamEnd
                        try context.update(
                            input: UnsafeRawBufferPointer(rebasing: plaintext[streamEnd...]),
                            output: UnsafeMutableRawBufferPointer(rebasing: trailer[..<tail])
                        )
                        let tag =
                            layout == .a
                            ? UnsafeMutableRawBufferPointer(
                                rebasing: front[RandomIV.count..<(RandomIV.count + BlobLayout.tagCount)]
                            )
                            : UnsafeMutableRawBufferPointer(rebasing: trailer[tail...])
                        try context.finishSealing(tag: tag)
                        Base64.encode(UnsafeRawBufferPointer(front), into: text)
                        if !trailer.isEmpty { Base64.encode(UnsafeRawBufferPointer(trailer), into: text + written) }
                    }
                }
            }
            return Base64.encodedCount(total)
        }
    }
}
