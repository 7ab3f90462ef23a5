import EnvelopeCrypto

/// The bytes ``AzureKeyVaultProvider`` stores for one wrapped data key (layout version 1):
/// `0x01 | n (1 byte) | the key version that wrapped (n ASCII bytes) | m (2 bytes, big-endian) |
/// Key Vault's RSA-OAEP-256 ciphertext of the one-time key (m bytes) | IV (12) | data key sealed
/// under the one-time key (32) | tag (16)`.
///
/// The key version travels with the wrapped key so that, once the customer rotates the key and
/// the BYOK entry names the new version, keys wrapped under the old version are still unwrapped
/// by that version (while it stays enabled).
struct AzureWrappedKey: Equatable {
    static let layoutVersion: UInt8 = 1
    /// Key Vault's RSA keys are 2048 to 4096 bits: ciphertexts of 256 to 512 bytes.
    static let maxCiphertextCount = 1024

    /// The key version (the last part of the key's `kid`).
    var keyVersion: String
    var ciphertext: [UInt8]
    /// The data key sealed under the one-time key (``EnvelopeCrypto/DataKey/wrap(_:associatedData:)``).
    var sealed: ArraySlice<UInt8>

    init(keyVersion: String, ciphertext: [UInt8], sealed: ArraySlice<UInt8>) {
        self.keyVersion = keyVersion
        self.ciphertext = ciphertext
        self.sealed = sealed
    }

    /// Parses stored bytes; nil for anything this layout did not write.
    init?(parsing bytes: [UInt8]) {
        var index = bytes.startIndex
        func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, bytes.endIndex - index >= count else { return nil }
            defer { index += count }
            return bytes[index..<(index + count)]
        }
        guard take(1)?.first == Self.layoutVersion, let versionCount = take(1)?.first,
            let version = take(Int(versionCount)), let length = take(2),
            case let count = Int(length.first!) << 8 | Int(length.last!),
            (1...Self.maxCiphertextCount).contains(count), let ciphertext = take(count),
            bytes.endIndex - index == DataKey.wrappedByteCount,
            let keyVersion = String(bytes: version, encoding: .ascii), AzureKeyVaultProvider.isVersion(keyVersion)
        else { return nil }
        self.keyVersion = keyVersion
        self.ciphertext = Array(ciphertext)
        sealed = bytes[index...]
    }

    var bytes: [UInt8] {
        let version = Array(keyVersion.utf8)
        return [Self.layoutVersion, UInt8(version.count)] + version
            + [UInt8(ciphertext.count >> 8), UInt8(ciphertext.count & 0xFF)] + ciphertext + sealed
    }
}
