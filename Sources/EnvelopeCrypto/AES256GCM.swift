internal import CLibcrypto

/// AES-256-GCM from the default provider, fetched once per process: an implicit fetch per
/// message (`EVP_aes_256_gcm()` in an init call) costs a provider lookup every time.
nonisolated(unsafe) private let aes256GCM: OpaquePointer? = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)

/// One `EVP_CIPHER_CTX` with a 32-byte key installed. Each message re-sets only the IV (and the
/// direction), which keeps the key schedule and GHASH tables: that is what makes small messages
/// cheap. A context is used by one thread at a time: ``KeyStorage`` hands it out under a lock or
/// to a single call, which is why the unchecked `Sendable` is sound.
final class GCMContext: @unchecked Sendable {
    static let tagCount = 16
    static let standardIVCount = 12

    private let context: OpaquePointer
    private var ivCount = GCMContext.standardIVCount

    init(key: UnsafeRawBufferPointer) throws(EnvelopeCryptoError) {
        guard let cipher = aes256GCM, let context = EVP_CIPHER_CTX_new() else {
            throw .libraryFailure("EVP_CIPHER_CTX_new")
        }
        let keyPointer = key.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard EVP_CipherInit_ex2(context, cipher, keyPointer, nil, 1, nil) == 1 else {
            EVP_CIPHER_CTX_free(context)
            ERR_clear_error()
            throw .libraryFailure("EVP_CipherInit_ex2")
        }
        self.context = context
    }

    // EVP_CIPHER_CTX_free wipes the GCM context, key schedule included, before freeing it.
    deinit { EVP_CIPHER_CTX_free(context) }

    /// Encrypts `plaintext` into `ciphertext` (same length) and writes the 16-byte tag.
    func seal(
        iv: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer,
        plaintext: UnsafeRawBufferPointer,
        ciphertext: UnsafeMutableRawBufferPointer,
        tag: UnsafeMutableRawBufferPointer
    ) throws(EnvelopeCryptoError) {
        precondition(ciphertext.count == plaintext.count && tag.count == Self.tagCount)
        try start(iv: iv, associatedData: associatedData, encrypting: true)
        try update(input: plaintext, output: ciphertext)
        try finishSealing(tag: tag)
    }

    /// Ends a message begun with ``start(iv:associatedData:encrypting:)`` and fed through
    /// ``update(input:output:)``, and writes its 16-byte tag.
    func finishSealing(tag: UnsafeMutableRawBufferPointer) throws(EnvelopeCryptoError) {
        precondition(tag.count == Self.tagCount)
        guard finalize(),
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagCount), tag.baseAddress) == 1
        else {
            ERR_clear_error()
            throw .libraryFailure("EVP_CipherFinal_ex")
        }
    }

    /// Decrypts `ciphertext` into `plaintext` and verifies `tag`. On a bad tag the output is wiped
    /// before the error is thrown: libcrypto writes plaintext before it knows the tag is wrong.
    func open(
        iv: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer,
        ciphertext: UnsafeRawBufferPointer,
        tag: UnsafeRawBufferPointer,
        plaintext: UnsafeMutableRawBufferPointer
    ) throws(EnvelopeCryptoError) {
        precondition(ciphertext.count == plaintext.count)
        do throws(EnvelopeCryptoError) {
            guard tag.count == Self.tagCount else { throw EnvelopeCryptoError.authenticationFailed }
            try start(iv: iv, associatedData: associatedData, encrypting: false)
            try update(input: ciphertext, output: plaintext)
            // SET_TAG only reads the buffer; the C signature just lacks `const`.
            let expectedTag = UnsafeMutableRawPointer(mutating: tag.baseAddress)
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagCount), expectedTag) == 1,
                finalize()
            else { throw EnvelopeCryptoError.authenticationFailed }
        } catch {
            if let base = plaintext.baseAddress { OPENSSL_cleanse(base, plaintext.count) }
            ERR_clear_error()
            throw error
        }
    }

    /// Ends a message begun with ``start(iv:associatedData:encrypting:)`` (decrypting) and fed
    /// through ``update(input:output:)``: verifies `tag`. When this throws, the caller must wipe
    /// or discard everything it decrypted.
    func finishOpening(tag: UnsafeRawBufferPointer) throws(EnvelopeCryptoError) {
        // SET_TAG only reads the buffer; the C signature just lacks `const`.
        let expectedTag = UnsafeMutableRawPointer(mutating: tag.baseAddress)
        guard tag.count == Self.tagCount,
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagCount), expectedTag) == 1,
            finalize()
        else {
            ERR_clear_error()
            throw .authenticationFailed
        }
    }

    /// `EVP_CipherFinal_ex` writes nothing for GCM, but it needs a valid output pointer.
    private func finalize() -> Bool {
        var scratch: UInt8 = 0
        var written: Int32 = 0
        return EVP_CipherFinal_ex(context, &scratch, &written) == 1
    }

    /// Begins a message: sets the IV and direction and feeds the associated data.
    func start(
        iv: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer,
        encrypting: Bool
    ) throws(EnvelopeCryptoError) {
        if iv.count != ivCount {
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(iv.count), nil) == 1 else {
                ERR_clear_error()
                throw .libraryFailure("EVP_CTRL_GCM_SET_IVLEN")
            }
            ivCount = iv.count
        }
        let ivPointer = iv.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard EVP_CipherInit_ex2(context, nil, nil, ivPointer, encrypting ? 1 : 0, nil) == 1 else {
            ERR_clear_error()
            throw .libraryFailure("EVP_CipherInit_ex2")
        }
        if !associatedData.isEmpty {
            // An empty AAD and no AAD give the same tag, so empty input skips the call.
            try update(input: associatedData, output: nil)
        }
    }

    /// Encrypts or decrypts the next part of a message (`output` nil: associated data).
    /// `EVP_CipherUpdate` takes an `int` length: feed large inputs in 1 GiB steps.
    func update(
        input: UnsafeRawBufferPointer,
        output: UnsafeMutableRawBufferPointer?
    ) throws(EnvelopeCryptoError) {
        let step = 1 << 30
        var offset = 0
        while offset < input.count {
            let count = min(step, input.count - offset)
            var written: Int32 = 0
            let inPointer = input.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self)
            let outPointer = output?.baseAddress?.advanced(by: offset).assumingMemoryBound(to: UInt8.self)
            guard EVP_CipherUpdate(context, outPointer, &written, inPointer, Int32(count)) == 1 else {
                ERR_clear_error()
                throw .libraryFailure("EVP_CipherUpdate")
            }
            offset += count
        }
    }
}
