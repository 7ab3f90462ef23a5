import Foundation
import Testing

@testable import EnvelopeCrypto

/// `Fixtures/rsa-vectors.json`: RFC 7515 A.2's example key, its RS256 signature, and RSA-OAEP-256
/// ciphertexts made by an independent implementation (pyca/cryptography).
private struct RSAVectors: Decodable {
    struct RS256: Decodable {
        var signing_input: String
        var signature_base64url: String
    }
    struct OAEP: Decodable {
        struct Vector: Decodable {
            var comment: String
            var message_hex: String
            var ciphertext_hex: String
        }
        var vectors: [Vector]
    }
    var private_key_pem: String
    var public_key_pem: String
    var rs256: RS256
    var rsa_oaep_256: OAEP

    static func load() throws -> RSAVectors {
        try Fixtures.decode(RSAVectors.self, from: Fixtures.project("rsa-vectors.json"))
    }
}

private func base64URLDecoded(_ text: String) -> [UInt8] {
    var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
    return [UInt8](base64: standard)
}

@Suite("RSA keys: RS256 and RSA-OAEP-256")
struct RSAKeyTests {
    @Test("RS256 reproduces RFC 7515 A.2's signature byte for byte, and it verifies")
    func rfc7515Signature() throws {
        let vectors = try RSAVectors.load()
        let key = try RSAPrivateKey(pem: vectors.private_key_pem)
        let message = Array(vectors.rs256.signing_input.utf8)
        let expected = base64URLDecoded(vectors.rs256.signature_base64url)
        #expect(expected.count == 256)
        #expect(try key.signRS256(message) == expected)
        let publicKey = try RSAPublicKey(pem: vectors.public_key_pem)
        #expect(publicKey.verifyRS256(signature: expected, message: message))
        #expect(key.publicKey.verifyRS256(signature: expected, message: message))
    }

    @Test("RS256 verification rejects another message, an altered signature and another key")
    func rs256Rejections() throws {
        let key = try RSAPrivateKey.generate()
        let message = Array("header.claims".utf8)
        let signature = try key.signRS256(message)
        #expect(key.publicKey.verifyRS256(signature: signature, message: message))
        #expect(!key.publicKey.verifyRS256(signature: signature, message: Array("header.claimz".utf8)))
        var altered = signature
        altered[17] ^= 0x01
        #expect(!key.publicKey.verifyRS256(signature: altered, message: message))
        #expect(!key.publicKey.verifyRS256(signature: [], message: message))
        let other = try RSAPrivateKey.generate()
        #expect(!other.publicKey.verifyRS256(signature: signature, message: message))
    }

    @Test("RSA-OAEP-256 opens ciphertexts made by pyca/cryptography")
    func oaepKnownAnswers() throws {
        let vectors = try RSAVectors.load()
        let key = try RSAPrivateKey(pem: vectors.private_key_pem)
        #expect(vectors.rsa_oaep_256.vectors.count == 3)
        for vector in vectors.rsa_oaep_256.vectors {
            let opened = try key.decryptOAEP256([UInt8](hex: vector.ciphertext_hex))
            #expect(opened == [UInt8](hex: vector.message_hex), "\(vector.comment)")
        }
    }

    @Test("RSA-OAEP-256 round-trips a key, is randomised, and refuses altered or foreign ciphertexts")
    func oaepRoundTrip() throws {
        let key = try RSAPrivateKey.generate()
        let message = (0..<32).map { UInt8($0 * 7 & 0xFF) }
        let first = try key.publicKey.encryptOAEP256(message)
        let second = try key.publicKey.encryptOAEP256(message)
        #expect(first.count == 256)
        #expect(first != second)
        #expect(try key.decryptOAEP256(first) == message)
        #expect(try key.decryptOAEP256(second) == message)
        var altered = first
        altered[100] ^= 0x80
        #expect(throws: EnvelopeCryptoError.authenticationFailed) { try key.decryptOAEP256(altered) }
        #expect(throws: EnvelopeCryptoError.authenticationFailed) { try key.decryptOAEP256(Array(first.prefix(255))) }
        let other = try RSAPrivateKey.generate()
        #expect(throws: EnvelopeCryptoError.authenticationFailed) { try other.decryptOAEP256(first) }
    }

    @Test("PEM export reads back as the same key")
    func pemRoundTrip() throws {
        let key = try RSAPrivateKey.generate()
        let reread = try RSAPrivateKey(pem: try key.pkcs8PEM())
        #expect(try key.pkcs8PEM().hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let message = Array("signed once".utf8)
        #expect(
            try RSAPublicKey(pem: key.publicKey.pem()).verifyRS256(
                signature: reread.signRS256(message),
                message: message
            )
        )
    }

    @Test("Malformed, encrypted and non-RSA keys are typed errors that do not echo the PEM; no keys under 2048 bits")
    func invalidKeys() throws {
        let vectors = try RSAVectors.load()
        let truncated = String(vectors.private_key_pem.prefix(300))
        for pem in ["", "not a key", truncated, vectors.public_key_pem] {
            #expect(throws: EnvelopeCryptoError.invalidKey) { try RSAPrivateKey(pem: pem) }
        }
        #expect(throws: EnvelopeCryptoError.invalidKey) { try RSAPublicKey(pem: vectors.private_key_pem) }
        #expect(throws: EnvelopeCryptoError.invalidKey) { try RSAPublicKey(pem: "garbage") }
        // An encrypted PKCS#8 key is refused without a password prompt.
        let encrypted = """
            -----BEGIN ENCRYPTED PRIVATE KEY-----
            MIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQIc3hmh7lTcBICAggA
            -----END ENCRYPTED PRIVATE KEY-----
            """
        #expect(throws: EnvelopeCryptoError.invalidKey) { try RSAPrivateKey(pem: encrypted) }
        #expect(throws: EnvelopeCryptoError.self) { try RSAPrivateKey.generate(bits: 1024) }
        do {
            _ = try RSAPrivateKey(pem: truncated)
        } catch {
            #expect(!"\(error)".contains("MII"))
        }
    }
}
