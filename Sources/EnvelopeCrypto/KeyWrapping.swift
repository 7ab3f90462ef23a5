internal import CLibcrypto

/// Key wrapping for key services (LocalVault's KEKs and root key): a 32-byte key sealed under
/// another with AES-256-GCM, a fresh random IV and associated data that binds it to its context.
/// Layout: `IV(12) | wrapped key(32) | tag(16)`.
extension DataKey {
    /// The length of a wrapped key.
    package static let wrappedByteCount = RandomIV.count + byteCount + GCMContext.tagCount

    /// Seals `key` under this key.
    package func wrap(_ key: DataKey, associatedData: [UInt8]) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: Self.wrappedByteCount) { output, count in
            let box = UnsafeMutableRawBufferPointer(output)
            try RandomIV.fill(box.baseAddress!)
            let iv = UnsafeRawBufferPointer(rebasing: box[0..<RandomIV.count])
            let sealed = UnsafeMutableRawBufferPointer(
                rebasing: box[RandomIV.count..<(RandomIV.count + Self.byteCount)]
            )
            let tag = UnsafeMutableRawBufferPointer(rebasing: box[(RandomIV.count + Self.byteCount)...])
            try associatedData.withUnsafeBytes { aad in
                try storage.withContext { (context) throws(EnvelopeCryptoError) in
                    try context.seal(
                        iv: iv,
                        associatedData: aad,
                        plaintext: UnsafeRawBufferPointer(key.storage.bytes),
                        ciphertext: sealed,
                        tag: tag
                    )
                }
            }
            count = Self.wrappedByteCount
        }
    }

    /// Opens a key that ``wrap(_:associatedData:)`` sealed under this key. The key is decrypted
    /// straight into wiped-on-free storage.
    /// - Throws: ``EnvelopeCryptoError/authenticationFailed`` for a wrong key, wrong associated data,
    ///   a tampered box or a box of the wrong length.
    package func unwrap(_ wrapped: ArraySlice<UInt8>, associatedData: [UInt8]) throws -> DataKey {
        guard wrapped.count == Self.wrappedByteCount else { throw EnvelopeCryptoError.authenticationFailed }
        let unwrapped = KeyStorage()
        try wrapped.withUnsafeBytes { box in
            try associatedData.withUnsafeBytes { aad in
                try storage.withContext { (context) throws(EnvelopeCryptoError) in
                    try context.open(
                        iv: UnsafeRawBufferPointer(rebasing: box[0..<RandomIV.count]),
                        associatedData: aad,
                        ciphertext: UnsafeRawBufferPointer(
                            rebasing: box[RandomIV.count..<(RandomIV.count + Self.byteCount)]
                        ),
                        tag: UnsafeRawBufferPointer(rebasing: box[(RandomIV.count + Self.byteCount)...]),
                        plaintext: unwrapped.bytes
                    )
                }
            }
        }
        return DataKey(storage: unwrapped)
    }
}

/// SHA-256 through libcrypto, for identifiers and etags (never for keys or passwords).
package enum SHA256 {
    /// The 32-byte digest of `bytes`.
    package static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// The 32-byte digest of `bytes`.
    package static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { digest, count in
            var length: UInt32 = 0
            let ok = EVP_Digest(bytes.baseAddress, bytes.count, digest.baseAddress, &length, algorithm, nil)
            precondition(ok == 1 && length == 32, "EVP_Digest(SHA-256) failed")
            count = 32
        }
    }

    /// SHA-256 fetched from the default provider once: `EVP_sha256()` makes OpenSSL 3 look the
    /// implementation up again on every digest, which cost more than hashing a short input.
    /// Fetched methods are immutable and safe to share between threads; this one is never freed.
    nonisolated(unsafe) private static let algorithm: OpaquePointer = {
        guard let fetched = EVP_MD_fetch(nil, "SHA256", nil) else { return EVP_sha256() }
        return fetched
    }()

    /// The digest as lowercase hex.
    package static func hexDigest(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hexDigest($0) }
    }

    /// The digest as lowercase hex.
    package static func hexDigest(_ bytes: UnsafeRawBufferPointer) -> String {
        let digest = hash(bytes)
        return String(unsafeUninitializedCapacity: 64) { output in
            let digits: StaticString = "0123456789abcdef"
            for (index, byte) in digest.enumerated() {
                output[2 * index] = digits.utf8Start[Int(byte >> 4)]
                output[2 * index + 1] = digits.utf8Start[Int(byte & 0x0F)]
            }
            return 64
        }
    }
}

extension Array where Element == UInt8 {
    /// Overwrites the bytes with zeros in a way the optimiser cannot drop (`OPENSSL_cleanse`), for
    /// buffers that held key material on its way into a ``DataKey``.
    package mutating func wipe() {
        withUnsafeMutableBytes { bytes in
            if let base = bytes.baseAddress { OPENSSL_cleanse(base, bytes.count) }
        }
    }
}

/// Random identifiers from libcrypto's CSPRNG via the per-thread pool: Foundation's `UUID()`
/// costs several system calls here (it reads `/dev/urandom` each time).
package enum RandomIdentifier {
    /// The 16 bytes of a fresh version-4 UUID.
    package static func uuidBytes() throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 16)
        try bytes.withUnsafeMutableBytes { try RandomIV.fillBytes($0.baseAddress!, count: 16) }
        bytes[6] = bytes[6] & 0x0F | 0x40  // version 4
        bytes[8] = bytes[8] & 0x3F | 0x80  // RFC 4122 variant
        return bytes
    }
}
