/// A client-side encrypted blob: AES-256-GCM ciphertext framed with its IV, tag and the wrapped
/// copies of its data key (`encrypted_keys`), byte-compatible with the official WorkOS SDKs.
///
/// Reading: ``init(parsing:layout:)`` (bytes) or ``init(base64Encoded:layout:)`` (the text form
/// the SDKs store), then hand ``encryptedKeys`` to the key service and ``open(with:associatedData:)``
/// with the data key it returns. Writing: ``seal(_:with:encryptedKeys:associatedData:layout:)-([UInt8],_,_,_,_)``
/// (bytes) or ``seal(_:with:encryptedKeys:associatedData:layout:)-(String,_,_,_,_)`` (text).
///
/// The value keeps the blob's bytes and the offsets of its parts: parsing copies nothing, so
/// opening a 1 MiB blob decrypts straight from the bytes it was given.
public struct EnvelopeBlob: Sendable, Hashable {
    /// The largest wrapped-keys section accepted or written: 64 KiB. A WorkOS blob for a context
    /// of 10 pairs is about 2 KiB; the cap stops a hostile length from claiming gigabytes.
    public static let maxEncryptedKeysCount = 65_536

    /// The whole blob.
    public let bytes: [UInt8]
    /// The layout the blob was parsed or written in.
    public let layout: BlobLayout
    private let sections: BlobSections

    /// Parses a blob.
    /// - Parameters:
    ///   - bytes: the blob.
    ///   - layout: the layout to read, or `nil` to detect it (see the `BlobLayouts` article).
    /// - Throws: ``EnvelopeCryptoError/malformedBlob`` when the bytes are not a blob of that layout.
    public init(parsing bytes: [UInt8], layout: BlobLayout? = nil) throws {
        let parsed = bytes.withUnsafeBytes { raw -> (BlobLayout, BlobSections)? in
            guard let layout else { return LayoutDetection.detect(in: raw) }
            return layout.sections(in: raw).map { (layout, $0) }
        }
        guard let (layout, sections) = parsed else { throw EnvelopeCryptoError.malformedBlob }
        self.bytes = bytes
        self.layout = layout
        self.sections = sections
    }

    /// Parses a blob from strict standard base64, the form the official SDKs return and store.
    /// - Throws: ``EnvelopeCryptoError/invalidBase64`` or ``EnvelopeCryptoError/malformedBlob``.
    public init(base64Encoded text: some StringProtocol, layout: BlobLayout? = nil) throws {
        try self.init(parsing: Base64.decode(text), layout: layout)
    }

    /// The wrapped data key, exactly as the key service issued it. Send it (base64) to
    /// `POST /vault/v1/keys/decrypt`.
    public var encryptedKeys: [UInt8] { Array(bytes[sections.encryptedKeys]) }

    /// The initialization vector (12 bytes, or 32 for ``BlobLayout/legacyA``).
    public var iv: [UInt8] { Array(bytes[sections.iv]) }

    /// The 16-byte GCM tag.
    public var tag: [UInt8] { Array(bytes[sections.tag]) }

    /// The ciphertext length, which equals the plaintext length.
    public var ciphertextCount: Int { sections.ciphertext.count }

    /// The blob as standard base64 with padding.
    public func base64EncodedString() -> String { Base64.encode(bytes) }

    /// Decrypts and authenticates the blob.
    /// - Parameters:
    ///   - key: the data key that the key service unwrapped from ``encryptedKeys``.
    ///   - associatedData: the associated data given when sealing; `nil` and empty are the same.
    /// - Returns: the plaintext.
    /// - Throws: ``EnvelopeCryptoError/authenticationFailed`` for a wrong key, wrong associated data
    ///   or any changed byte. No plaintext is returned or left behind in that case.
    public func open(with key: DataKey, associatedData: [UInt8]? = nil) throws -> [UInt8] {
        try (associatedData ?? []).withUnsafeBytes { try open(with: key, associatedData: $0) }
    }

    /// Decrypts a blob whose plaintext is UTF-8 text, the form the official SDKs use.
    /// - Parameters:
    ///   - key: the data key that the key service unwrapped from ``encryptedKeys``.
    ///   - associatedData: the associated data given when sealing (UTF-8); `nil` and `""` are the same.
    /// - Throws: ``EnvelopeCryptoError/authenticationFailed`` or ``EnvelopeCryptoError/invalidUTF8``.
    public func openString(with key: DataKey, associatedData: String? = nil) throws -> String {
        var text = associatedData ?? ""
        let plaintext = try text.withUTF8 { try open(with: key, associatedData: UnsafeRawBufferPointer($0)) }
        guard let string = String(validating: plaintext, as: UTF8.self) else { throw EnvelopeCryptoError.invalidUTF8 }
        return string
    }

    func open(with key: DataKey, associatedData: UnsafeRawBufferPointer) throws -> [UInt8] {
        let count = sections.ciphertext.count
        return try bytes.withUnsafeBytes { blob in
            try [UInt8](unsafeUninitializedCapacity: count) { (output, written) throws(EnvelopeCryptoError) in
                try key.storage.withContext { (context) throws(EnvelopeCryptoError) in
                    try context.open(
                        iv: UnsafeRawBufferPointer(rebasing: blob[sections.iv]),
                        associatedData: associatedData,
                        ciphertext: UnsafeRawBufferPointer(rebasing: blob[sections.ciphertext]),
                        tag: UnsafeRawBufferPointer(rebasing: blob[sections.tag]),
                        plaintext: UnsafeMutableRawBufferPointer(output)
                    )
                }
                written = count
            }
        }
    }
}

extension EnvelopeBlob {
    /// Encrypts `plaintext` under `key` with a fresh random 12-byte IV and frames it with
    /// `encryptedKeys`.
    /// - Parameters:
    ///   - plaintext: the bytes to encrypt (any length, empty included).
    ///   - key: the data key the key service issued together with `encryptedKeys`.
    ///   - encryptedKeys: the wrapped copies of `key` (1 to ``maxEncryptedKeysCount`` bytes).
    ///   - associatedData: bytes authenticated but not encrypted; `nil` and empty are the same.
    ///   - layout: ``BlobLayout/a`` (default, what most SDKs read) or ``BlobLayout/b``.
    /// - Throws: ``EnvelopeCryptoError/invalidEncryptedKeys`` or ``EnvelopeCryptoError/unsupportedLayout``.
    public static func seal(
        _ plaintext: [UInt8],
        with key: DataKey,
        encryptedKeys: [UInt8],
        associatedData: [UInt8]? = nil,
        layout: BlobLayout = .a
    ) throws -> EnvelopeBlob {
        try plaintext.withUnsafeBytes { plaintext in
            try (associatedData ?? []).withUnsafeBytes { associatedData in
                try seal(
                    plaintext,
                    with: key,
                    encryptedKeys: encryptedKeys,
                    associatedData: associatedData,
                    layout: layout,
                    iv: nil
                )
            }
        }
    }

    /// Encrypts UTF-8 text, the form the official SDKs use.
    /// - Parameters:
    ///   - plaintext: the text to encrypt; the empty string is valid.
    ///   - key: the data key the key service issued together with `encryptedKeys`.
    ///   - encryptedKeys: the wrapped copies of `key`.
    ///   - associatedData: text authenticated but not encrypted; `nil` and `""` are the same.
    ///   - layout: ``BlobLayout/a`` (default) or ``BlobLayout/b``.
    /// - Throws: ``EnvelopeCryptoError/invalidEncryptedKeys`` or ``EnvelopeCryptoError/unsupportedLayout``.
    public static func seal(
        _ plaintext: String,
        with key: DataKey,
        encryptedKeys: [UInt8],
        associatedData: String? = nil,
        layout: BlobLayout = .a
    ) throws -> EnvelopeBlob {
        try withUTF8(of: plaintext, associatedData) { plaintext, associatedData in
            try seal(
                plaintext,
                with: key,
                encryptedKeys: encryptedKeys,
                associatedData: associatedData,
                layout: layout,
                iv: nil
            )
        }
    }

    /// Runs `body` with the UTF-8 bytes of `text` and of `associatedData` (none when `nil`),
    /// without copying native strings.
    static func withUTF8<Result>(
        of text: String,
        _ associatedData: String?,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        var text = text
        var associatedData = associatedData ?? ""
        return try text.withUTF8 { text in
            try associatedData.withUTF8 { try body(UnsafeRawBufferPointer(text), UnsafeRawBufferPointer($0)) }
        }
    }

    /// Seals with a caller-chosen IV: for known-answer tests only, since reusing an IV under one
    /// key breaks GCM.
    package static func seal(
        _ plaintext: [UInt8],
        with key: DataKey,
        encryptedKeys: [UInt8],
        associatedData: [UInt8],
        layout: BlobLayout,
        fixedIV: [UInt8]
    ) throws -> EnvelopeBlob {
        precondition(fixedIV.count == RandomIV.count)
        return try plaintext.withUnsafeBytes { plaintext in
            try associatedData.withUnsafeBytes { associatedData in
                try fixedIV.withUnsafeBytes { iv in
                    try seal(
                        plaintext,
                        with: key,
                        encryptedKeys: encryptedKeys,
                        associatedData: associatedData,
                        layout: layout,
                        iv: iv
                    )
                }
            }
        }
    }

    /// The one place a blob is assembled: the output is allocated once at its final size and the
    /// ciphertext is written into it directly.
    static func seal(
        _ plaintext: UnsafeRawBufferPointer,
        with key: DataKey,
        encryptedKeys: [UInt8],
        associatedData: UnsafeRawBufferPointer,
        layout: BlobLayout,
        iv fixedIV: UnsafeRawBufferPointer?
    ) throws(EnvelopeCryptoError) -> EnvelopeBlob {
        guard layout.isWritable else { throw .unsupportedLayout }
        guard (1...maxEncryptedKeysCount).contains(encryptedKeys.count) else { throw .invalidEncryptedKeys }
        let lengthCount = LEB128.byteCount(of: UInt32(encryptedKeys.count))
        let keysCount = encryptedKeys.count
        let total = RandomIV.count + BlobLayout.tagCount + lengthCount + keysCount + plaintext.count
        let sections: BlobSections
        switch layout {
        case .a, .legacyA:
            let keysStart = RandomIV.count + BlobLayout.tagCount + lengthCount
            sections = BlobSections(
                iv: 0..<RandomIV.count,
                tag: RandomIV.count..<(RandomIV.count + BlobLayout.tagCount),
                encryptedKeys: keysStart..<(keysStart + keysCount),
                ciphertext: (keysStart + keysCount)..<total
            )
        case .b:
            let ivStart = lengthCount + keysCount
            sections = BlobSections(
                iv: ivStart..<(ivStart + RandomIV.count),
                tag: (total - BlobLayout.tagCount)..<total,
                encryptedKeys: lengthCount..<ivStart,
                ciphertext: (ivStart + RandomIV.count)..<(total - BlobLayout.tagCount)
            )
        }
        let lengthStart = sections.encryptedKeys.lowerBound - lengthCount
        let bytes = try [UInt8](unsafeUninitializedCapacity: total) { (output, written) throws(EnvelopeCryptoError) in
            let blob = UnsafeMutableRawBufferPointer(output)
            let ivBytes = UnsafeMutableRawBufferPointer(rebasing: blob[sections.iv])
            if let fixedIV {
                ivBytes.copyMemory(from: fixedIV)
            } else {
                try RandomIV.fill(ivBytes.baseAddress!)
            }
            LEB128.write(UInt32(keysCount), to: blob.baseAddress! + lengthStart)
            UnsafeMutableRawBufferPointer(rebasing: blob[sections.encryptedKeys]).copyBytes(from: encryptedKeys)
            try key.storage.withContext { (context) throws(EnvelopeCryptoError) in
                try context.seal(
                    iv: UnsafeRawBufferPointer(ivBytes),
                    associatedData: associatedData,
                    plaintext: plaintext,
                    ciphertext: UnsafeMutableRawBufferPointer(rebasing: blob[sections.ciphertext]),
                    tag: UnsafeMutableRawBufferPointer(rebasing: blob[sections.tag])
                )
            }
            written = total
        }
        return EnvelopeBlob(bytes: bytes, layout: layout, sections: sections)
    }

    /// The same ciphertext, IV and tag framed with other wrapped keys: the blob half of a rekey,
    /// which moves a blob to a new key context without decrypting it. The layout is kept unless
    /// `layout` names another writable one.
    /// - Throws: ``EnvelopeCryptoError/invalidEncryptedKeys`` or ``EnvelopeCryptoError/unsupportedLayout``.
    public func replacingEncryptedKeys(_ encryptedKeys: [UInt8], layout: BlobLayout? = nil) throws -> EnvelopeBlob {
        let layout = layout ?? self.layout
        guard layout.isWritable, self.layout.isWritable else { throw EnvelopeCryptoError.unsupportedLayout }
        guard (1...Self.maxEncryptedKeysCount).contains(encryptedKeys.count) else {
            throw EnvelopeCryptoError.invalidEncryptedKeys
        }
        let length = LEB128.encode(UInt32(encryptedKeys.count))
        let iv = bytes[sections.iv]
        let tag = bytes[sections.tag]
        let ciphertext = bytes[sections.ciphertext]
        var rebuilt: [UInt8] = []
        rebuilt.reserveCapacity(iv.count + tag.count + length.count + encryptedKeys.count + ciphertext.count)
        switch layout {
        case .a, .legacyA:
            rebuilt += iv
            rebuilt += tag
            rebuilt += length
            rebuilt += encryptedKeys
            rebuilt += ciphertext
        case .b:
            rebuilt += length
            rebuilt += encryptedKeys
            rebuilt += iv
            rebuilt += ciphertext
            rebuilt += tag
        }
        return try EnvelopeBlob(parsing: rebuilt, layout: layout)
    }

    private init(bytes: [UInt8], layout: BlobLayout, sections: BlobSections) {
        self.bytes = bytes
        self.layout = layout
        self.sections = sections
    }
}

extension EnvelopeBlob: CustomStringConvertible, CustomReflectable {
    /// Layout and size only: wrapped keys are not printed.
    public var description: String { "EnvelopeBlob(layout: \(layout), \(bytes.count) bytes)" }
    public var customMirror: Mirror {
        Mirror(self, children: ["layout": layout, "byteCount": bytes.count], displayStyle: .struct)
    }
}
