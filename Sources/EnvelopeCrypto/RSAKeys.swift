internal import CLibcrypto

/// An RSA private key from PEM, for the cloud key services: RS256 signs the JWT of Google's
/// service-account grant, and RSA-OAEP-256 decryption is Azure Key Vault's `unwrapkey` (which the
/// tests' contract double performs).
///
/// The `EVP_PKEY` is never changed after it is made, and OpenSSL 3 lets several threads use one
/// key at once as long as each operation has its own context (as here), which is why the
/// unchecked `Sendable` is sound.
package final class RSAPrivateKey: @unchecked Sendable {
    /// The smallest modulus accepted, in bits: what Google and Azure issue and NIST allows.
    package static let minimumBits: Int32 = 2048

    let key: OpaquePointer

    private init(owning key: OpaquePointer) {
        self.key = key
    }

    // EVP_PKEY_free wipes the private parts before freeing them.
    deinit { EVP_PKEY_free(key) }

    /// Reads an unencrypted PEM private key (`BEGIN PRIVATE KEY` as in a Google service-account
    /// file, or `BEGIN RSA PRIVATE KEY`).
    /// - Throws: ``EnvelopeCryptoError/Code-swift.struct/invalidKey`` for anything that is not an
    ///   unencrypted RSA key of at least ``minimumBits`` bits. The message never holds the PEM.
    package convenience init(pem: String) throws(EnvelopeCryptoError) {
        let loaded: OpaquePointer? = PEMBuffer.withBIO(reading: pem) { bio in
            // A password callback that refuses: the default one would prompt on the terminal.
            PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        guard let loaded else {
            ERR_clear_error()
            throw RSAErrors.invalidPrivateKey
        }
        guard EVP_PKEY_is_a(loaded, "RSA") == 1, EVP_PKEY_get_bits(loaded) >= Self.minimumBits else {
            EVP_PKEY_free(loaded)
            throw RSAErrors.invalidPrivateKey
        }
        self.init(owning: loaded)
    }

    /// A fresh key from libcrypto's generator (for tests and contract doubles).
    package static func generate(bits: Int32 = minimumBits) throws(EnvelopeCryptoError) -> RSAPrivateKey {
        guard bits >= minimumBits, let context = EVP_PKEY_CTX_new_from_name(nil, "RSA", nil) else {
            throw .libraryFailure("EVP_PKEY_CTX_new_from_name")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var generated: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_rsa_keygen_bits(context, bits) == 1,
            EVP_PKEY_generate(context, &generated) == 1, let generated
        else {
            ERR_clear_error()
            throw .libraryFailure("EVP_PKEY_generate")
        }
        return RSAPrivateKey(owning: generated)
    }

    /// The public half.
    package var publicKey: RSAPublicKey {
        EVP_PKEY_up_ref(key)
        return RSAPublicKey(owning: key)
    }

    /// The key as unencrypted PKCS#8 PEM, for writing test credential files.
    package func pkcs8PEM() throws(EnvelopeCryptoError) -> String {
        try PEMBuffer.write { bio in PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil) == 1 }
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (JWS `RS256`, RFC 7518 section 3.3) over `message`.
    package func signRS256(_ message: [UInt8]) throws(EnvelopeCryptoError) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw .libraryFailure("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        var length = 0
        guard EVP_DigestSignInit_ex(context, &keyContext, "SHA256", nil, nil, key, nil) == 1,
            EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PADDING) == 1,
            EVP_DigestSign(context, nil, &length, message, message.count) == 1
        else {
            ERR_clear_error()
            throw .libraryFailure("EVP_DigestSignInit_ex")
        }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else {
            ERR_clear_error()
            throw .libraryFailure("EVP_DigestSign")
        }
        return Array(signature.prefix(length))
    }

    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256 (JWA `RSA-OAEP-256`) decryption. The caller wipes
    /// the result when it is key material.
    /// - Throws: ``EnvelopeCryptoError/authenticationFailed`` when `ciphertext` was not made
    ///   under this key with these parameters (or was altered).
    package func decryptOAEP256(_ ciphertext: [UInt8]) throws(EnvelopeCryptoError) -> [UInt8] {
        let context = try RSAOAEP.context(for: key, encrypting: false)
        defer { EVP_PKEY_CTX_free(context) }
        var capacity = 0
        guard EVP_PKEY_decrypt(context, nil, &capacity, ciphertext, ciphertext.count) == 1 else {
            ERR_clear_error()
            throw .authenticationFailed
        }
        var failed = false
        let plaintext = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            var written = capacity
            failed = EVP_PKEY_decrypt(context, buffer.baseAddress, &written, ciphertext, ciphertext.count) != 1
            if let base = buffer.baseAddress, failed { OPENSSL_cleanse(base, capacity) }
            count = failed ? 0 : written
        }
        guard !failed else {
            ERR_clear_error()
            throw .authenticationFailed
        }
        return plaintext
    }
}

/// An RSA public key: RS256 verification (the Google contract double checks its JWTs with it) and
/// RSA-OAEP-256 encryption (Azure Key Vault's `wrapkey`).
package final class RSAPublicKey: @unchecked Sendable {
    let key: OpaquePointer

    init(owning key: OpaquePointer) {
        self.key = key
    }

    deinit { EVP_PKEY_free(key) }

    /// Reads a `BEGIN PUBLIC KEY` (SubjectPublicKeyInfo) PEM.
    /// - Throws: ``EnvelopeCryptoError/Code-swift.struct/invalidKey`` for anything that is not an
    ///   RSA public key of at least ``RSAPrivateKey/minimumBits`` bits.
    package convenience init(pem: String) throws(EnvelopeCryptoError) {
        let loaded: OpaquePointer? = PEMBuffer.withBIO(reading: pem) { bio in
            PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
        guard let loaded else {
            ERR_clear_error()
            throw RSAErrors.invalidPublicKey
        }
        guard EVP_PKEY_is_a(loaded, "RSA") == 1, EVP_PKEY_get_bits(loaded) >= RSAPrivateKey.minimumBits else {
            EVP_PKEY_free(loaded)
            throw RSAErrors.invalidPublicKey
        }
        self.init(owning: loaded)
    }

    /// The key as SubjectPublicKeyInfo PEM.
    package func pem() throws(EnvelopeCryptoError) -> String {
        try PEMBuffer.write { bio in PEM_write_bio_PUBKEY(bio, key) == 1 }
    }

    /// Whether `signature` is a valid RS256 signature of `message` under this key.
    package func verifyRS256(signature: [UInt8], message: [UInt8]) -> Bool {
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        let valid =
            EVP_DigestVerifyInit_ex(context, &keyContext, "SHA256", nil, nil, key, nil) == 1
            && EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PADDING) == 1
            && EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
        ERR_clear_error()
        return valid
    }

    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256 (JWA `RSA-OAEP-256`) encryption of a short
    /// `message` (at most 190 bytes under a 2048-bit key).
    package func encryptOAEP256(_ message: [UInt8]) throws(EnvelopeCryptoError) -> [UInt8] {
        let context = try RSAOAEP.context(for: key, encrypting: true)
        defer { EVP_PKEY_CTX_free(context) }
        var length = 0
        guard EVP_PKEY_encrypt(context, nil, &length, message, message.count) == 1 else {
            ERR_clear_error()
            throw .libraryFailure("EVP_PKEY_encrypt")
        }
        var ciphertext = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_encrypt(context, &ciphertext, &length, message, message.count) == 1 else {
            ERR_clear_error()
            throw RSAErrors.messageTooLong
        }
        return Array(ciphertext.prefix(length))
    }
}

private enum RSAErrors {
    static let invalidPrivateKey = EnvelopeCryptoError(
        .invalidKey,
        "not an unencrypted PEM RSA private key of at least \(RSAPrivateKey.minimumBits) bits"
    )
    static let invalidPublicKey = EnvelopeCryptoError(
        .invalidKey,
        "not a PEM RSA public key of at least \(RSAPrivateKey.minimumBits) bits"
    )
    static let messageTooLong = EnvelopeCryptoError(.invalidKey, "the message is too long for RSA-OAEP under this key")
}

/// The `EVP_PKEY_CTX` of one RSA-OAEP-256 operation.
private enum RSAOAEP {
    static func context(for key: OpaquePointer, encrypting: Bool) throws(EnvelopeCryptoError) -> OpaquePointer {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else {
            throw .libraryFailure("EVP_PKEY_CTX_new_from_pkey")
        }
        let ready =
            (encrypting ? EVP_PKEY_encrypt_init(context) : EVP_PKEY_decrypt_init(context)) == 1
            && EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_OAEP_PADDING) == 1
            && EVP_PKEY_CTX_set_rsa_oaep_md_name(context, "SHA256", nil) == 1
            && EVP_PKEY_CTX_set_rsa_mgf1_md_name(context, "SHA256", nil) == 1
        guard ready else {
            EVP_PKEY_CTX_free(context)
            ERR_clear_error()
            throw .libraryFailure("EVP_PKEY_CTX_set_rsa_padding")
        }
        return context
    }
}

/// PEM text in and out of memory BIOs.
private enum PEMBuffer {
    static func withBIO<T>(reading text: String, _ body: (OpaquePointer) -> T?) -> T? {
        var bytes = Array(text.utf8)
        defer { bytes.wipe() }
        return bytes.withUnsafeBytes { buffer -> T? in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return body(bio)
        }
    }

    static func write(_ body: (OpaquePointer) -> Bool) throws(EnvelopeCryptoError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw .libraryFailure("BIO_new") }
        defer { BIO_free(bio) }
        guard body(bio) else {
            ERR_clear_error()
            throw .libraryFailure("PEM_write_bio")
        }
        var data: UnsafeMutablePointer<CChar>?
        let count = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data)
        guard count > 0, let data else { throw .libraryFailure("BIO_get_mem_data") }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: count), as: UTF8.self)
    }
}
