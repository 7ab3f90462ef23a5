import Foundation
import Testing

@testable import EnvelopeCrypto

/// `sealedBase64` encrypts large messages a slice at a time straight into base64 text; it must
/// give exactly the text of `seal` + `base64EncodedString()` wherever the slices, the header and
/// the base64 groups meet.
@Suite struct SealedBase64Tests {
    static let slice = EnvelopeBlob.base64SliceCount
    static let sizes = [
        0, 1, 2, 3, 64, slice - 1, slice, slice + 1, slice + 2, slice + 3, 2 * slice, 2 * slice + 1,
        2 * slice + 2, 3 * slice + 2, 200_003,
    ]

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Wrapped-key lengths that put the end of the blob header at every position in a base64
    /// group, for both layouts, and a 2-byte LEB128 length.
    @Test(arguments: [BlobLayout.a, .b], [1, 2, 3, 181, 182, 183])
    func matchesSealThenEncode(layout: BlobLayout, keysCount: Int) throws {
        let key = try DataKey.generate()
        let keys = Self.randomBytes(keysCount)
        for size in Self.sizes {
            let plaintext = Self.randomBytes(size)
            let iv = Self.randomBytes(12)
            let expected = try EnvelopeBlob.seal(
                plaintext,
                with: key,
                encryptedKeys: keys,
                associatedData: [],
                layout: layout,
                fixedIV: iv
            ).base64EncodedString()
            let text = try EnvelopeBlob.sealedBase64(
                plaintext,
                with: key,
                encryptedKeys: keys,
                layout: layout,
                fixedIV: iv
            )
            #expect(text == expected, "size \(size)")
        }
    }

    @Test(arguments: [BlobLayout.a, .b], [10, 3 * 16_384 + 7, 300_001])
    func textRoundTripsWithAssociatedData(layout: BlobLayout, size: Int) throws {
        let key = try DataKey.generate()
        // A known prefix, so that layout detection can tell B from A.
        let keys = Array("LVS.EKM.v1\0".utf8) + Self.randomBytes(169)
        let plaintext = String(repeating: "héllo wörld ", count: size / 14 + 1)
        let text = try EnvelopeBlob.sealedBase64(
            plaintext,
            with: key,
            encryptedKeys: keys,
            associatedData: "user_456",
            layout: layout
        )
        let blob = try EnvelopeBlob(base64Encoded: text)
        #expect(blob.layout == layout)
        #expect(blob.encryptedKeys == keys)
        #expect(try blob.openString(with: key, associatedData: "user_456") == plaintext)
        #expect(throws: EnvelopeCryptoError.authenticationFailed) {
            try blob.openString(with: key, associatedData: "user_457")
        }
    }

    @Test func refusesWhatSealRefuses() throws {
        let key = try DataKey.generate()
        let large = String(repeating: "x", count: 2 * Self.slice)
        #expect(throws: EnvelopeCryptoError.unsupportedLayout) {
            try EnvelopeBlob.sealedBase64(large, with: key, encryptedKeys: [1], layout: .legacyA)
        }
        #expect(throws: EnvelopeCryptoError.invalidEncryptedKeys) {
            try EnvelopeBlob.sealedBase64(large, with: key, encryptedKeys: [])
        }
    }
}
