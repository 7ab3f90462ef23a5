import Foundation
import Testing

@testable import EnvelopeCrypto

/// Layout detection: layout A unless another layout's wrapped keys carry strong evidence.
@Suite struct LayoutDetectionTests {
    struct File: Decodable {
        let vectors: [Vector]
    }

    struct Vector: Decodable {
        let name: String
        let data_key: String
        let encrypted_keys: String
        let associated_data: String?
        let plaintext: String
        let layout: String
        let blob: String
    }

    @Test func theDetectionVectorsAreReadInTheirLayoutAndDecrypt() throws {
        let vectors = try Fixtures.decode(File.self, from: Fixtures.project("layout-detection-vectors.json")).vectors
        #expect(!vectors.isEmpty)
        for vector in vectors {
            let blob = try EnvelopeBlob(base64Encoded: vector.blob)
            #expect(blob.layout.description == vector.layout, "\(vector.name)")
            #expect(blob.encryptedKeys == [UInt8](base64: vector.encrypted_keys), "\(vector.name)")
            let key = try DataKey(base64Encoded: vector.data_key)
            #expect(try blob.openString(with: key, associatedData: vector.associated_data) == vector.plaintext)
        }
    }

    /// Random IV, tag, wrapped keys of 1 to 64 bytes and ciphertext of 0 to 96: the bytes a
    /// layout-A blob with untagged keys is made of. Before the rule asked B and A' for strong
    /// evidence, about 500 of these million were read as B or A'.
    @Test func aMillionRandomUntaggedLayoutABlobsAreAllReadAsA() {
        var random = SplitMix64(seed: 0x5EED_0019)
        var blob = [UInt8](repeating: 0, count: 12 + 16 + 1 + 64 + 96)
        var misread = 0
        var firstMisread: String?
        for _ in 0..<1_000_000 {
            let keysCount = Int(random.next() % 64) + 1
            let count = 12 + 16 + 1 + keysCount + Int(random.next() % 97)
            let misdetected = blob.withUnsafeMutableBytes { bytes -> Bool in
                random.fill(bytes[..<count])
                bytes[28] = UInt8(keysCount)
                let detected = LayoutDetection.detect(in: UnsafeRawBufferPointer(rebasing: bytes[..<count]))
                return detected?.0 != .a
            }
            if misdetected {
                misread += 1
                if firstMisread == nil { firstMisread = Base64.encode(Array(blob[..<count])) }
            }
        }
        #expect(misread == 0, "first misread blob: \(firstMisread ?? "-")")
    }

    @Test(arguments: ["TEST.EKM", "ACME.KMS.v2", "a.b-c_d9", String(repeating: "K", count: 31) + "."])
    func aDottedNameOfEightOrMoreIsAKeyServiceTag(tag: String) {
        let keys = Array(tag.utf8) + [0, 0xAB, 0xCD]
        #expect(keys.withUnsafeBytes { LayoutDetection.evidence(in: $0) } == .serviceTag)
    }

    @Test(arguments: [
        "AB",  // too short: the shape random IVs take
        "KMS.1",  // too short
        "ACMEKEYS",  // no dot
        "ACME KMS.v1",  // a space
        "ACME.KMS/v1",  // a slash
        String(repeating: "K", count: 32) + ".",  // 33 characters
    ])
    func otherTagsAreNotKeyServiceTags(tag: String) {
        let keys = Array(tag.utf8) + [0, 0xAB]
        #expect(keys.withUnsafeBytes { LayoutDetection.evidence(in: $0) } != .serviceTag)
        #expect(Array(tag.utf8).withUnsafeBytes { LayoutDetection.evidence(in: $0) } == .none, "no NUL")
    }

    @Test func aServiceTagOutvotesLayoutAAndAShortTagDoesNot() throws {
        let key = try DataKey.generate()
        // Layout B blobs whose bytes also fit A: the tagged keys win for B every time.
        let serviceTagged = Array("ACME.KMS.v2\0".utf8) + [UInt8](repeating: 0x5A, count: 40)
        for _ in 0..<500 {
            let blob = try EnvelopeBlob.seal("payload", with: key, encryptedKeys: serviceTagged, layout: .b)
            #expect(try EnvelopeBlob(parsing: blob.bytes).layout == .b)
        }
        // A blob that fits all three layouts, whose keys under A' read "KMS.1\0": A, as no strong evidence is there.
        let shortTag =
            [UInt8](repeating: 0, count: 28) + [2, 1, 1] + [UInt8](repeating: 0, count: 17) + [6]
            + Array("KMS.1\0".utf8) + [UInt8](repeating: 0, count: 8)
        #expect(try EnvelopeBlob(parsing: shortTag).layout == .a)
        // The same with a key-service tag under A': A'.
        let serviceTag =
            [UInt8](repeating: 0, count: 28) + [2, 1, 1] + [UInt8](repeating: 0, count: 17) + [12]
            + Array("ACME.KMS.v1\0".utf8) + [UInt8](repeating: 0, count: 8)
        #expect(try EnvelopeBlob(parsing: serviceTag).layout == .legacyA)
    }

    @Test func withoutLayoutAAnyTagChoosesBetweenBAndLegacyA() throws {
        // Byte 28 is 0x80 (an unfinished LEB128 that runs into a 0x00): A does not fit. B's keys
        // are 5 zero bytes; A' reads "AB\0" at 49.
        var bytes = [UInt8](repeating: 0, count: 60)
        bytes[0] = 5
        bytes[28] = 0x80
        bytes[48] = 3
        bytes.replaceSubrange(49..<52, with: Array("AB\0".utf8))
        #expect(try EnvelopeBlob(parsing: bytes).layout == .legacyA)
        bytes[49] = 0
        #expect(try EnvelopeBlob(parsing: bytes).layout == .b)
    }
}

/// A small seeded generator (SplitMix64), so that the random blobs are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fills `bytes` eight at a time.
    mutating func fill(_ bytes: Slice<UnsafeMutableRawBufferPointer>) {
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 8 {
            bytes.base.storeBytes(of: next(), toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        var word = next()
        while offset < bytes.endIndex {
            bytes.base[offset] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            offset += 1
        }
    }
}
