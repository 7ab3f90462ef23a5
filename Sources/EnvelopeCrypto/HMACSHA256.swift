internal import CLibcrypto

/// HMAC-SHA256 through libcrypto, for request signing (AWS Signature Version 4) in the
/// customer-key providers. Callers wipe keys they derived once done.
package enum HMACSHA256 {
    /// The 32-byte authentication code of `message` under `key`.
    package static func authenticationCode(key: [UInt8], message: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { output, count in
            var length: UInt32 = 0
            let result = key.withUnsafeBytes { keyBytes in
                message.withUnsafeBytes { messageBytes in
                    HMAC(
                        EVP_sha256(),
                        keyBytes.baseAddress,
                        Int32(keyBytes.count),
                        messageBytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        messageBytes.count,
                        output.baseAddress,
                        &length
                    )
                }
            }
            precondition(result != nil && length == 32, "HMAC(SHA-256) failed")
            count = 32
        }
    }

    /// Lowercase hex, as SigV4 writes digests and signatures.
    package static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
