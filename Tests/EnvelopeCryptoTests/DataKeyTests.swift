import Foundation
import Testing

@testable import EnvelopeCrypto

@Suite struct DataKeyTests {
    static let keyBytes = (0..<32).map { UInt8($0 * 7 + 3) }

    /// Every rendering of the key bytes that could leak into a log.
    static func leaks(in text: String) -> [String] {
        let hex = keyBytes.map { String(format: "%02x", $0) }.joined()
        let renderings = [
            Base64.encode(keyBytes), hex, hex.uppercased(), keyBytes.map(String.init).joined(separator: ", "),
        ]
        return renderings.filter { text.contains($0) }
    }

    @Test func printingDescribingDebugPrintingAndDumpingShowNoKeyBytes() throws {
        let key = try DataKey(copying: Self.keyBytes)
        var printed = ""
        print(key, to: &printed)
        var debugPrinted = ""
        debugPrint(key, to: &debugPrinted)
        var dumped = ""
        dump(key, to: &dumped)
        var dumpedStorage = ""
        dump(key.storage, to: &dumpedStorage)
        var dumpedContainer = ""
        dump(["key": key], to: &dumpedContainer)
        let renderings = [
            printed, debugPrinted, dumped, dumpedStorage, dumpedContainer, String(describing: key),
            String(reflecting: key), "\(key)", "\([key])",
        ]
        for rendering in renderings {
            #expect(Self.leaks(in: rendering).isEmpty, "leaked in: \(rendering.prefix(60))")
            #expect(rendering.contains("redacted") || rendering.contains("KeyStorage"))
        }
        #expect(Mirror(reflecting: key).children.isEmpty)
    }

    @Test func theBytesComeOutOnlyThroughExplicitCalls() throws {
        let key = try DataKey(copying: Self.keyBytes)
        #expect(key.withUnsafeBytes { Array($0) } == Self.keyBytes)
        #expect(key.base64EncodedString() == Base64.encode(Self.keyBytes))
        #expect(try DataKey(base64Encoded: key.base64EncodedString()) == key)
    }

    @Test func equalityComparesEveryByte() throws {
        let key = try DataKey(copying: Self.keyBytes)
        #expect(key == (try DataKey(copying: Self.keyBytes)))
        for index in Self.keyBytes.indices {
            var other = Self.keyBytes
            other[index] ^= 0x80
            #expect(key != (try DataKey(copying: other)))
        }
    }

    @Test(arguments: [0, 16, 31, 33, 64])
    func keysOfTheWrongLengthAreRejected(count: Int) {
        #expect(throws: EnvelopeCryptoError.invalidKey) { try DataKey(copying: [UInt8](repeating: 1, count: count)) }
        let text = Base64.encode([UInt8](repeating: 1, count: count))
        #expect(throws: EnvelopeCryptoError.invalidKey) { try DataKey(base64Encoded: text) }
    }

    @Test func generatedKeysAreDistinctAndFullLength() throws {
        let keys = try (0..<1000).map { _ in try DataKey.generate().base64EncodedString() }
        #expect(Set(keys).count == keys.count)
        #expect(try keys.allSatisfy { try Base64.decode($0).count == 32 })
    }

    @Test func errorsNameTheProblemWithoutSecrets() throws {
        let key = try DataKey(copying: Self.keyBytes)
        let blob = try EnvelopeBlob.seal("top secret", with: key, encryptedKeys: [1, 2, 3])
        let wrongKey = try DataKey.generate()
        do {
            _ = try blob.openString(with: wrongKey)
            Issue.record("a wrong key decrypted")
        } catch {
            let text = "\(error) \(String(reflecting: error))"
            #expect(text.contains("authentication failed"))
            #expect(Self.leaks(in: text).isEmpty)
            #expect(!text.contains("top secret"))
        }
        #expect(!"\(blob)".contains(Base64.encode([1, 2, 3])))
    }
}
