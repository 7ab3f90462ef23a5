import Foundation
import Testing

@testable import EnvelopeCrypto

/// Every parser branch with hostile input: each gives exactly the expected error and nothing else.
@Suite struct MalformedInputTests {
    static let key = try! DataKey(copying: [UInt8](repeating: 7, count: 32))
    static let keys = Array("WOS.EKM.v1\0".utf8) + [1, 2, 3, 4, 5]

    static func sealed(_ layout: BlobLayout, plaintext: String = "secret") throws -> EnvelopeBlob {
        try EnvelopeBlob.seal(
            Array(plaintext.utf8),
            with: key,
            encryptedKeys: keys,
            associatedData: [9],
            layout: layout
        )
    }

    /// What opening `bytes` (forced to `layout`) gives: a parse error, an authentication error, or plaintext.
    static func outcome(_ bytes: [UInt8], layout: BlobLayout?) -> Result<[UInt8], EnvelopeCryptoError> {
        Result { try EnvelopeBlob(parsing: bytes, layout: layout).open(with: key, associatedData: [9]) }
            .mapError { $0 as! EnvelopeCryptoError }
    }

    @Test(arguments: [BlobLayout.a, .b])
    func everyTruncationIsMalformedOrUnauthenticated(layout: BlobLayout) throws {
        let blob = try Self.sealed(layout)
        // The header (everything up to the end of the wrapped keys, plus IV and tag for B) must be
        // whole for the blob to parse; any shorter prefix is malformed, any longer one fails the tag.
        let lengthCount = LEB128.byteCount(of: UInt32(Self.keys.count))
        let headerCount = 12 + 16 + lengthCount + Self.keys.count
        for length in 0..<blob.bytes.count {
            let truncated = Array(blob.bytes.prefix(length))
            let expected: EnvelopeCryptoError = length < headerCount ? .malformedBlob : .authenticationFailed
            switch Self.outcome(truncated, layout: layout) {
            case .success: Issue.record("a blob truncated to \(length) bytes decrypted")
            case .failure(let error): #expect(error == expected, "truncated to \(length) bytes")
            }
            if case .success = Self.outcome(truncated, layout: nil) {
                Issue.record("auto-detection decrypted a blob truncated to \(length) bytes")
            }
        }
    }

    @Test(arguments: [BlobLayout.a, .b])
    func everyBitFlipIsRejectedOrChangesTheWrappedKeys(layout: BlobLayout) throws {
        let blob = try Self.sealed(layout, plaintext: "hi")
        let keysRange = try #require(blob.bytes.firstRange(of: Self.keys))
        for byte in blob.bytes.indices {
            for bit in 0..<8 {
                var flipped = blob.bytes
                flipped[byte] ^= 1 << bit
                if keysRange.contains(byte) {
                    // The wrapped keys are not covered by the blob's tag in any WorkOS layout: the key
                    // service authenticates them. A flip must at least reach it as different keys.
                    let parsed = try EnvelopeBlob(parsing: flipped, layout: layout)
                    #expect(parsed.encryptedKeys != Self.keys)
                    continue
                }
                switch Self.outcome(flipped, layout: layout) {
                case .success: Issue.record("flipping bit \(bit) of byte \(byte) still decrypted")
                case .failure(let error):
                    #expect(error == .malformedBlob || error == .authenticationFailed)
                }
            }
        }
    }

    @Test func appendedBytesFailAuthentication() throws {
        for layout in [BlobLayout.a, .b] {
            let blob = try Self.sealed(layout)
            guard case .failure(let error) = Self.outcome(blob.bytes + [0], layout: layout) else {
                Issue.record("a blob with a trailing byte decrypted")
                continue
            }
            #expect(error == .authenticationFailed)
        }
    }

    static let malformedLEB128: [[UInt8]] = [
        [],  // no bytes
        [0x80],  // continuation with nothing after it
        [0x80, 0x80, 0x80, 0x80],  // runs out
        [0x80, 0x80, 0x80, 0x80, 0x80],  // continuation on the fifth byte
        [0x80, 0x80, 0x80, 0x80, 0x10],  // 2^32: overflows u32
        [0xFF, 0xFF, 0xFF, 0xFF, 0x1F],  // 2^33-1
        [0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
        [0x80, 0x00],  // 0, non-minimal
        [0x85, 0x00],  // 5, non-minimal
        [0xFF, 0x80, 0x00],  // non-minimal, three bytes
        [0x80, 0x80, 0x80, 0x80, 0x00],  // 0 in five bytes
    ]

    @Test(arguments: malformedLEB128)
    func malformedLEB128IsRejected(bytes: [UInt8]) {
        #expect(bytes.withUnsafeBytes { LEB128.decode($0, at: 0) } == nil)
    }

    @Test(
        arguments: [
            ([0x00], 0), ([0x7F], 127), ([0x80, 0x01], 128), ([0xFF, 0x7F], 16_383), ([0x80, 0x80, 0x04], 65_536),
            ([0xFF, 0xFF, 0xFF, 0xFF, 0x0F], Int(UInt32.max)),
        ] as [([UInt8], Int)]
    )
    func validLEB128DecodesAndReencodesIdentically(bytes: [UInt8], value: Int) throws {
        let decoded = try #require(bytes.withUnsafeBytes { LEB128.decode($0, at: 0) })
        #expect(decoded.value == UInt32(value))
        #expect(decoded.byteCount == bytes.count)
        #expect(LEB128.encode(UInt32(value)) == bytes)
    }

    @Test(arguments: malformedLEB128)
    func aBlobWithAMalformedLengthIsMalformed(length: [UInt8]) {
        let keysAndBody = [UInt8](repeating: 0x41, count: 64)
        let layoutA = [UInt8](repeating: 0, count: 28) + length + keysAndBody
        let layoutB = length + keysAndBody
        #expect(throws: EnvelopeCryptoError.malformedBlob) { try EnvelopeBlob(parsing: layoutA, layout: .a) }
        #expect(throws: EnvelopeCryptoError.malformedBlob) { try EnvelopeBlob(parsing: layoutB, layout: .b) }
    }

    @Test func wrappedKeysLongerThanTheCapAreMalformed() throws {
        let cap = EnvelopeBlob.maxEncryptedKeysCount
        for (count, parses) in [(cap, true), (cap + 1, false)] {
            let bytes =
                [UInt8](repeating: 0, count: 28) + LEB128.encode(UInt32(count)) + [UInt8](repeating: 1, count: count)
            if parses {
                #expect(try EnvelopeBlob(parsing: bytes, layout: .a).encryptedKeys.count == cap)
            } else {
                #expect(throws: EnvelopeCryptoError.malformedBlob) { try EnvelopeBlob(parsing: bytes, layout: .a) }
            }
        }
        // A length that claims far more than the bytes hold.
        let lying = [UInt8](repeating: 0, count: 28) + LEB128.encode(1000) + [UInt8](repeating: 1, count: 999)
        #expect(throws: EnvelopeCryptoError.malformedBlob) { try EnvelopeBlob(parsing: lying, layout: .a) }
        let empty = [UInt8](repeating: 0, count: 28) + [0x00] + [1, 2, 3]
        #expect(throws: EnvelopeCryptoError.malformedBlob) { try EnvelopeBlob(parsing: empty, layout: .a) }
    }

    @Test(arguments: [
        "A", "AB", "ABC", "ABCDE",  // length not a multiple of 4
        "AB=C", "A=BC", "A===", "====", "AB==CD==", "ABC=DEFG",  // misplaced padding
        "QR==", "QUJ=",  // non-zero padding bits
        "QUJD\n", " QUJD", "QU JD", "QUJD\r\n",  // whitespace
        "QUJ-", "QUJ_",  // URL-safe alphabet
        "QUJD====", "QUJDRA===",  // extra padding
        "QUJDRA", "QUJDREU",  // missing padding
        "QUJD\u{0}", "QUJ\u{e9}",  // NUL and non-ASCII
    ])
    func invalidBase64IsRejected(text: String) {
        #expect(throws: EnvelopeCryptoError.invalidBase64) { try Base64.decode(text) }
        #expect(throws: EnvelopeCryptoError.invalidBase64) { try EnvelopeBlob(base64Encoded: text) }
    }

    @Test func foundationAcceptsSomeOfWhatThisDecoderRejects() {
        // The reason for a strict decoder: Foundation decodes these two to bytes without complaint.
        for text in ["QR==", "QUJ="] {
            #expect(Data(base64Encoded: text) != nil)
            #expect(throws: EnvelopeCryptoError.invalidBase64) { try Base64.decode(text) }
        }
    }

    @Test func base64RoundTripsAndMatchesFoundationForEveryLengthUpTo200() throws {
        var generator = SystemRandomNumberGenerator()
        for count in 0...200 {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let encoded = Base64.encode(bytes)
            #expect(encoded == Data(bytes).base64EncodedString())
            #expect(try Base64.decode(encoded) == bytes)
        }
    }
}
