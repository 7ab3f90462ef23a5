import Foundation
import LocalVault

/// Checks the URLs of a BYOK entry (endpoints, token URLs, Azure key URLs) when it is loaded.
///
/// Bearer tokens, client secrets and signed assertions travel to these URLs, so only `https` is
/// accepted, and plain `http` only to a loopback host (a contract double in the tests, a local
/// proxy): a token must never cross a network in the clear.
enum ProviderURL {
    /// `text` without a trailing slash.
    /// - Throws: ``LocalVault/LocalVaultError`` (a configuration error) naming `field`.
    static func validated(_ text: String, field: String, keyID: String) throws -> String {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty, components.query == nil, components.fragment == nil,
            components.user == nil, components.password == nil
        else {
            throw invalid(field: field, keyID: keyID, why: "is not an absolute URL without query or credentials")
        }
        switch scheme {
        case "https":
            break
        case "http" where ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased()):
            break
        case "http":
            throw invalid(field: field, keyID: keyID, why: "must be https (plain http only to a loopback host)")
        default:
            throw invalid(field: field, keyID: keyID, why: "must be an https URL")
        }
        var trimmed = text
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        return trimmed
    }

    static func invalid(field: String, keyID: String, why: String) -> LocalVaultError {
        LocalVaultError(.internalError, "the customer key \(keyID): \"\(field)\" \(why)")
    }
}
