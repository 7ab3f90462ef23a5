import EnvelopeCrypto
import Foundation
import Testing

/// `Fixtures/format-vectors.json`: the official Python SDK's own `encrypt` output (layout A) and
/// the same encryption in layout B, for 24 key / IV / AAD / plaintext combinations.
@Suite struct FormatVectorTests {
    struct File: Decodable {
        let vectors: [Vector]
    }

    struct Vector: Decodable {
        let data_key: String
        let encrypted_keys: String
        let iv_hex: String
        let associated_data: String?
        let plaintext: String
        let blob_format_a: String
        let blob_format_b: String
    }

    static let vectors: [Vector] = {
        do {
            return try Fixtures.decode(File.self, from: Fixtures.project("format-vectors.json")).vectors
        } catch {
            Issue.record("Fixtures/format-vectors.json is missing or unreadable: \(error)")
            return []
        }
    }()

    @Test func allTwentyFourVectorsAreLoaded() {
        #expect(Self.vectors.count == 24)
    }

    @Test func everyBlobDecryptsWithItsDataKey() throws {
        for vector in Self.vectors {
            let key = try DataKey(base64Encoded: vector.data_key)
            for (text, layout) in [(vector.blob_format_a, BlobLayout.a), (vector.blob_format_b, .b)] {
                let blob = try EnvelopeBlob(base64Encoded: text)
                #expect(blob.layout == layout, "auto-detection chose \(blob.layout) for a layout \(layout) blob")
                #expect(blob.encryptedKeys == [UInt8](base64: vector.encrypted_keys))
                #expect(try blob.openString(with: key, associatedData: vector.associated_data) == vector.plaintext)
                let bytes = try blob.open(with: key, associatedData: vector.associated_data.map { Array($0.utf8) })
                #expect(bytes == Array(vector.plaintext.utf8))
            }
        }
    }

    @Test func sealingWithTheVectorIVReproducesBothLayoutsByteForByte() throws {
        for vector in Self.vectors {
            let key = try DataKey(base64Encoded: vector.data_key)
            for (expected, layout) in [(vector.blob_format_a, BlobLayout.a), (vector.blob_format_b, .b)] {
                let blob = try EnvelopeBlob.seal(
                    Array(vector.plaintext.utf8),
                    with: key,
                    encryptedKeys: [UInt8](base64: vector.encrypted_keys),
                    associatedData: Array((vector.associated_data ?? "").utf8),
                    layout: layout,
                    fixedIV: [UInt8](hex: vector.iv_hex)
                )
                #expect(blob.base64EncodedString() == expected)
                #expect(blob.iv == [UInt8](hex: vector.iv_hex))
            }
        }
    }

    @Test func forcingTheOtherLayoutNeverYieldsPlaintext() throws {
        for vector in Self.vectors {
            let key = try DataKey(base64Encoded: vector.data_key)
            for (text, wrong) in [(vector.blob_format_a, BlobLayout.b), (vector.blob_format_b, .a)] {
                do {
                    let blob = try EnvelopeBlob(base64Encoded: text, layout: wrong)
                    #expect(throws: EnvelopeCryptoError.self) {
                        try blob.openString(with: key, associatedData: vector.associated_data)
                    }
                } catch let error as EnvelopeCryptoError {
                    #expect(error == .malformedBlob)
                }
            }
        }
    }
}
