import EnvelopeCrypto
import Foundation
import Testing

/// Project Wycheproof AES-GCM vectors, the group that applies to AES-256-GCM with a 96-bit IV and
/// a 128-bit tag (read from `../shared/fixtures/wycheproof/`, not copied).
@Suite(.enabled(if: Fixtures.sharedAvailable(Fixtures.wycheproof)))
struct WycheproofTests {
    struct File: Decodable {
        let testGroups: [Group]
    }

    struct Group: Decodable {
        let keySize: Int
        let ivSize: Int
        let tagSize: Int
        let tests: [Case]
    }

    struct Case: Decodable {
        let tcId: Int
        let key: String
        let iv: String
        let aad: String
        let msg: String
        let ct: String
        let tag: String
        let result: String
    }

    static func applicableCases() throws -> [Case] {
        try Fixtures.decode(File.self, from: Fixtures.shared(Fixtures.wycheproof)).testGroups
            .filter { $0.keySize == 256 && $0.ivSize == 96 && $0.tagSize == 128 }
            .flatMap(\.tests)
    }

    /// Frames a Wycheproof ciphertext as a layout-A blob, so opening goes through the real parser.
    static func blob(for test: Case) throws -> EnvelopeBlob {
        let keys = Array("wycheproof\0".utf8)
        let bytes = [UInt8](hex: test.iv) + [UInt8](hex: test.tag) + [UInt8(keys.count)] + keys + [UInt8](hex: test.ct)
        return try EnvelopeBlob(parsing: bytes, layout: .a)
    }

    @Test func allSixtySixCasesGiveTheirExpectedResult() throws {
        let cases = try Self.applicableCases()
        #expect(cases.count == 66)
        #expect(cases.filter { $0.result == "valid" }.count == 39)
        #expect(cases.filter { $0.result == "invalid" }.count == 27)
        for test in cases {
            let key = try DataKey(copying: [UInt8](hex: test.key))
            let blob = try Self.blob(for: test)
            let aad = [UInt8](hex: test.aad)
            switch test.result {
            case "valid":
                #expect(try blob.open(with: key, associatedData: aad) == [UInt8](hex: test.msg), "tcId \(test.tcId)")
                let sealed = try EnvelopeBlob.seal(
                    [UInt8](hex: test.msg),
                    with: key,
                    encryptedKeys: blob.encryptedKeys,
                    associatedData: aad,
                    layout: .a,
                    fixedIV: [UInt8](hex: test.iv)
                )
                #expect(sealed.bytes == blob.bytes, "tcId \(test.tcId)")
            case "invalid":
                #expect(throws: EnvelopeCryptoError.authenticationFailed, "tcId \(test.tcId)") {
                    try blob.open(with: key, associatedData: aad)
                }
            default:
                Issue.record("tcId \(test.tcId): unexpected result \(test.result)")
            }
        }
    }
}
