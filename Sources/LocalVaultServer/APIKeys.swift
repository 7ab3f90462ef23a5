import EnvelopeCrypto
import Foundation
import LocalVault
import VaultAPI

/// One accepted API key: the environment it belongs to and the actor it writes as. The secret
/// itself is not kept, only its SHA-256 digest, so a memory dump or a `dump()` shows no key.
public struct APIKey: Sendable, Hashable, CustomStringConvertible {
    /// A stable, non-secret id: `key_` and the first 24 hex digits of SHA-256(key). It scopes
    /// idempotency keys and rate limits, and is the `updated_by.id` of what the key writes.
    public let id: String
    /// The environment whose keys and objects the key sees.
    public let environmentID: String
    /// The `updated_by` of objects written with this key: the id above and `sk_…` plus the last
    /// four characters of the key, as dashboards show keys.
    public let actor: VaultActor
    let digest: String

    /// The caller the engine sees for requests made with this key.
    public var caller: VaultCaller { VaultCaller(environmentID: environmentID, actor: actor) }

    public var description: String { "APIKey(\(id), environment: \(environmentID))" }

    init(secret: String, environmentID: String) {
        digest = SHA256.hexDigest(Array(secret.utf8))
        id = "key_" + digest.prefix(24)
        self.environmentID = environmentID
        actor = VaultActor(id: id, name: "sk_…" + secret.suffix(4))
    }
}

/// The set of accepted API keys, looked up by the digest of the presented key.
public struct APIKeyRing: Sendable {
    /// The environment variable holding comma-separated key entries.
    public static let environmentVariable = "VAULT_API_KEYS"

    private let keysByDigest: [String: APIKey]

    /// The accepted keys, in no particular order.
    public var keys: [APIKey] { Array(keysByDigest.values) }

    /// One configured entry and where it came from (for error messages, which name the place
    /// and never the value).
    public struct Entry: Sendable, Hashable {
        /// `sk_...` or `ENVIRONMENT_ID:sk_...`.
        public var text: String
        /// Such as `VAULT_API_KEYS entry 2` or `keys.txt line 7`.
        public var origin: String

        public init(_ text: String, origin: String) {
            self.text = text
            self.origin = origin
        }
    }

    /// Builds a ring from key entries: `sk_...` (environment ``LocalVault/defaultEnvironmentID``) or
    /// `ENVIRONMENT_ID:sk_...`, such as `environment_staging:sk_test_b`.
    /// - Throws: ``APIKeyConfigurationError`` naming the entry's origin, never its value.
    public init(entries: [Entry]) throws(APIKeyConfigurationError) {
        var keys: [String: APIKey] = [:]
        for entry in entries {
            let text = entry.text.trimmingCharacters(in: .whitespaces)
            let environmentID: String
            let secret: String
            if let colon = text.firstIndex(of: ":") {
                environmentID = String(text[..<colon])
                secret = String(text[text.index(after: colon)...])
                guard Self.isValidEnvironmentID(environmentID) else {
                    throw APIKeyConfigurationError(
                        "\(entry.origin): the environment id before ':' must be 1 to 128 letters, digits, '_' or '-'"
                    )
                }
            } else {
                environmentID = LocalVault.defaultEnvironmentID
                secret = text
            }
            guard secret.hasPrefix("sk_"), secret.count > 3 else {
                throw APIKeyConfigurationError("\(entry.origin) is not an API key: API keys start with sk_")
            }
            guard secret.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
                throw APIKeyConfigurationError("\(entry.origin): an API key is printable ASCII without spaces")
            }
            let key = APIKey(secret: secret, environmentID: environmentID)
            if let existing = keys[key.digest], existing.environmentID != environmentID {
                throw APIKeyConfigurationError(
                    "\(entry.origin): this API key is already listed for another environment"
                )
            }
            keys[key.digest] = key
        }
        guard !keys.isEmpty else { throw APIKeyConfigurationError("no API keys are configured") }
        keysByDigest = keys
    }

    /// The entries of a comma-separated list, the form of ``environmentVariable``.
    public static func entries(environmentValue: String, origin: String = environmentVariable) -> [Entry] {
        environmentValue.split(separator: ",", omittingEmptySubsequences: false).enumerated().compactMap {
            index,
            item in
            let text = item.trimmingCharacters(in: .whitespaces)
            return text.isEmpty ? nil : Entry(text, origin: "\(origin) entry \(index + 1)")
        }
    }

    /// The entries of a key file: one a line; blank lines and `#` comments are ignored.
    public static func entries(fileContents: String, origin: String) -> [Entry] {
        fileContents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated().compactMap {
            index,
            line in
            let text = line.prefix { $0 != "#" }.trimmingCharacters(in: .whitespaces)
            return text.isEmpty ? nil : Entry(text, origin: "\(origin) line \(index + 1)")
        }
    }

    /// The entries of a key file.
    /// - Throws: ``APIKeyConfigurationError`` if it cannot be read.
    public static func entries(file path: String) throws(APIKeyConfigurationError) -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw APIKeyConfigurationError("cannot read the API key file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw APIKeyConfigurationError("the API key file \(path) is not UTF-8 text")
        }
        return entries(fileContents: text, origin: path)
    }

    /// The key whose secret is `secret`, if it is accepted.
    public func key(forSecret secret: some StringProtocol) -> APIKey? {
        var secret = String(secret)
        return secret.withUTF8 { key(forSecretUTF8: UnsafeRawBufferPointer($0)) }
    }

    /// The key whose secret has these UTF-8 bytes, if it is accepted.
    func key(forSecretUTF8 secret: UnsafeRawBufferPointer) -> APIKey? {
        keysByDigest[SHA256.hexDigest(secret)]
    }

    private static func isValidEnvironmentID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 128 && id.unicodeScalars.allSatisfy(isIdentifierScalar)
    }

    private static func isIdentifierScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-": true
        default: false
        }
    }
}

/// An invalid API key configuration. Messages name the entry by position, never by value.
public struct APIKeyConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
