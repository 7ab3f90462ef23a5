import Foundation
import Testing

@testable import EnvelopeCrypto

/// The base64 codec against Foundation (encoding) and the strict rules (decoding), at lengths and positions that
/// reach both the vector kernels and the scalar code that finishes their work.
@Suite struct Base64Tests {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Decodes through the raw entry point, which takes any bytes (a String cannot hold 0x80-0xFF alone).
    static func decodeRaw(_ text: [UInt8]) throws -> [UInt8] {
        try text.withUnsafeBytes { try Base64.decode($0) }
    }

    @Test(arguments: [201, 255, 256, 1000, 1023, 1024, 4095, 4096, 65_537, 1_048_576, 1_048_578])
    func encodeMatchesFoundationAndRoundTrips(count: Int) throws {
        for count in [count, Int.random(in: 201...70_000)] {
            let bytes = Self.randomBytes(count)
            let encoded = Base64.encode(bytes)
            #expect(encoded == Data(bytes).base64EncodedString(), "\(count) bytes")
            #expect(try Base64.decode(encoded) == bytes, "\(count) bytes")
        }
    }

    @Test(arguments: Base64.Kernel.allCases)
    func everyKernelThisCPUHasMatchesFoundation(kernel: Base64.Kernel) throws {
        // The public entry point uses only the fastest kernel; this reaches the others, scalar included.
        guard Base64.encode(UnsafeRawBufferPointer(start: nil, count: 0), kernel: kernel) != nil else { return }
        for count in Array(0...300) + [4095, 65_536, 1_048_577] {
            let bytes = Self.randomBytes(count)
            let encoded = bytes.withUnsafeBytes { Base64.encode($0, kernel: kernel) }
            #expect(encoded == Data(bytes).base64EncodedString(), "\(kernel), \(count) bytes")
        }
    }

    @Test func encodeAndDecodeAtEveryAlignment() throws {
        // The kernels load and store unaligned: run them from every offset within a vector.
        let bytes = Self.randomBytes(600)
        for offset in 0..<32 {
            for count in [0, 1, 27, 28, 29, 52, 100, 200, 333, 500] {
                let slice = Array(bytes[offset..<offset + count])
                let encoded = bytes.withUnsafeBytes {
                    Base64.encode(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count]))
                }
                #expect(encoded == Data(slice).base64EncodedString(), "offset \(offset), \(count) bytes")
                let text = [UInt8](repeating: 0, count: offset) + Array(encoded.utf8)
                let decoded = try text.withUnsafeBytes {
                    try Base64.decode(UnsafeRawBufferPointer(rebasing: $0[offset...]))
                }
                #expect(decoded == slice, "offset \(offset), \(count) bytes")
            }
        }
    }

    @Test(arguments: [299, 300, 301])
    func everyByteOutsideTheAlphabetIsRejectedAtEveryPosition(count: Int) throws {
        // 299, 300 and 301 bytes end in "x=", no padding and "==": the padded quad is decoded apart from the rest.
        let valid = Array(Base64.encode(Self.randomBytes(count)).utf8)
        #expect(try Self.decodeRaw(valid).count == count)
        let outside = (0...255).map(UInt8.init).filter { !Self.alphabet.contains($0) }
        #expect(outside.count == 192)
        var accepted: [String] = []
        for position in valid.indices {
            for byte in outside {
                // '=' in the last two places can be a padding form; those have their own tests below.
                if byte == UInt8(ascii: "="), position >= valid.count - 2 { continue }
                var text = valid
                text[position] = byte
                if (try? Self.decodeRaw(text)) != nil { accepted.append("0x\(String(byte, radix: 16)) at \(position)") }
            }
        }
        #expect(accepted.isEmpty, "accepted: \(accepted.prefix(10))")
    }

    @Test func paddingBitsMustBeZero() throws {
        // For every alphabet character in the last data position, with a long valid prefix in front: accepted
        // exactly when the bits the padding drops are zero, and then to what Foundation decodes.
        let prefix = Base64.encode(Self.randomBytes(300))
        for (index, character) in Self.alphabet.enumerated() {
            let character = String(UnicodeScalar(character))
            for (quad, droppedBits) in [("Q" + character + "==", 0x0F), ("QU" + character + "=", 0x03)] {
                let text = prefix + quad
                if index & droppedBits == 0 {
                    #expect(try Base64.decode(text) == Array(Data(base64Encoded: text)!), "\(quad)")
                } else {
                    #expect(throws: EnvelopeCryptoError.invalidBase64, "\(quad)") { try Base64.decode(text) }
                }
            }
        }
    }

    @Test(arguments: [
        "====", "A===", "AB=C", "A=BC", "=ABC", "AB=", "ABC==", "QQ==QUJD", "QUI=QUJD", "QUI=QUJD====",
        "QUI==", "QQ===", "Q", "QU", "QUJ", "QUJDR", "QUJD=", "QUJD==", "QUJD===",
    ])
    func badPaddingAndLengthsAreRejectedAfterALongValidPrefix(tail: String) throws {
        // Alone, and behind prefixes long enough that the vector kernel decodes the part before the tail.
        for prefixBytes in [0, 48, 300] {
            let text = Base64.encode(Self.randomBytes(prefixBytes)) + tail
            #expect(throws: EnvelopeCryptoError.invalidBase64, "\(prefixBytes) bytes + \(tail)") {
                try Base64.decode(text)
            }
        }
    }

    @Test func truncatedAndExtendedEncodingsAreRejected() throws {
        let valid = Base64.encode(Self.randomBytes(1000))
        for cut in 1...3 {
            #expect(throws: EnvelopeCryptoError.invalidBase64) { try Base64.decode(valid.dropLast(cut)) }
            #expect(throws: EnvelopeCryptoError.invalidBase64) {
                try Base64.decode(valid + String(repeating: "A", count: cut))
            }
        }
    }
}
