import EnvelopeCrypto

/// Base64url without padding (RFC 4648 section 5), as JWTs and Azure Key Vault's JSON Web Keys use.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        var text = Base64.encode(bytes)
        while text.last == "=" { text.removeLast() }
        return String(
            text.map { character -> Character in
                switch character {
                case "+": "-"
                case "/": "_"
                default: character
                }
            }
        )
    }

    /// - Throws: ``EnvelopeCrypto/EnvelopeCryptoError/invalidBase64`` for anything but base64url
    ///   (padding tolerated).
    static func decode(_ text: String) throws -> [UInt8] {
        var standard = String(
            text.map { character -> Character in
                switch character {
                case "-": "+"
                case "_": "/"
                case "+", "/": "!"  // not base64url: make the strict decoder refuse it
                default: character
                }
            }
        )
        while standard.last == "=" { standard.removeLast() }
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return try Base64.decode(standard)
    }
}
