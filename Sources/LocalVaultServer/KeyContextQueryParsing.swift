import Foundation
import VaultAPI

/// The `key_context` query parameter (this project's extension of the WorkOS API): the JSON object
/// of a key context, percent-encoded. Given on an object call, the object is found only if its
/// context holds exactly these pairs; given on `GET /kv`, only such objects are listed.
enum KeyContextQuery {
    static let parameter = "key_context"

    /// The response header that tells a client `GET /kv` applied the `key_context` filter, so it
    /// need not check each listed object itself (a server that ignores the parameter sends none).
    static let appliedHeader = HTTPFieldName("vault-key-context")!
    static let appliedValue = "exact"

    static let malformed = "key_context must be a percent-encoded JSON object whose values are strings"

    /// The context of the query, or nil when the parameter is absent or empty.
    /// - Throws: 422 naming the rule that a malformed or invalid context breaks; never quoting it.
    static func parse(_ parameters: [String: String]) throws(APIError) -> KeyContext? {
        guard let text = parameters[parameter], !text.isEmpty else { return nil }
        let context: KeyContext
        do {
            context = try VaultJSON.sharedDecoder.decode(KeyContext.self, from: Data(text.utf8))
        } catch let error as KeyContextError {
            throw APIError.unprocessable("key_context: \(error.description)")
        } catch {
            throw APIError.unprocessable(malformed)
        }
        do {
            try context.validate()
        } catch {
            throw APIError.unprocessable("key_context: \(error.description)")
        }
        return context
    }
}
