import EnvelopeCrypto
import Foundation
import Testing

/// `../shared/fixtures/workos/workos-issued-keys.json`: a real WorkOS-issued `encrypted_keys`
/// (`WOS.EKM.v1\0...`) with blobs in layouts A, B and the legacy 32-byte-IV layout A'.
@Suite(.enabled(if: Fixtures.sharedAvailable(Fixtures.workOSIssuedKeys)))
struct WorkOSIssuedKeysTests {
    struct File: Decodable {
        let data_key: String
        let encrypted_keys: String
        let vectors: [Vector]
    }

    struct Vector: Decodable {
        let layout: String
        let iv_hex: String?
        let associated_data: String?
        let plaintext: String
        let blob: String
    }

    static func load() throws -> File {
        try Fixtures.decode(File.self, from: Fixtures.shared(Fixtures.workOSIssuedKeys))
    }

    static let layouts: [String: BlobLayout] = ["A": .a, "B": .b, "A_legacy_iv32": .legacyA]

    @Test func everyLayoutIsDetectedAndDecrypts() throws {
        let file = try Self.load()
        let key = try DataKey(base64Encoded: file.data_key)
        #expect(Set(file.vectors.map(\.layout)) == Set(Self.layouts.keys), "the file should hold all three layouts")
        for vector in file.vectors {
            let expectedLayout = try #require(Self.layouts[vector.layout])
            let blob = try EnvelopeBlob(base64Encoded: vector.blob)
            #expect(blob.layout == expectedLayout)
            #expect(blob.encryptedKeys == [UInt8](base64: file.encrypted_keys))
            #expect(blob.encryptedKeys.starts(with: KeysBlobPrefix.workOS))
            #expect(try blob.openString(with: key, associatedData: vector.associated_data) == vector.plaintext)
            #expect(blob.iv.count == expectedLayout.ivCount)
        }
    }

    @Test func sealingReproducesTheWritableLayouts() throws {
        let file = try Self.load()
        let key = try DataKey(base64Encoded: file.data_key)
        var reproduced = 0
        for vector in file.vectors {
            guard let ivHex = vector.iv_hex, let layout = Self.layouts[vector.layout], layout.isWritable else {
                continue
            }
            let blob = try EnvelopeBlob.seal(
                Array(vector.plaintext.utf8),
                with: key,
                encryptedKeys: [UInt8](base64: file.encrypted_keys),
                associatedData: Array((vector.associated_data ?? "").utf8),
                layout: layout,
                fixedIV: [UInt8](hex: ivHex)
            )
            #expect(blob.base64EncodedString() == vector.blob)
            reproduced += 1
        }
        #expect(reproduced >= 2)
    }

    @Test func wrongAssociatedDataFailsAuthentication() throws {
        let file = try Self.load()
        let key = try DataKey(base64Encoded: file.data_key)
        for vector in file.vectors {
            let blob = try EnvelopeBlob(base64Encoded: vector.blob)
            #expect(throws: EnvelopeCryptoError.authenticationFailed) {
                try blob.openString(with: key, associatedData: (vector.associated_data ?? "") + "x")
            }
        }
    }
}
