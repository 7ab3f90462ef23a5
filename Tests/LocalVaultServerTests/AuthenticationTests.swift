import Foundation
import Hummingbird
import HummingbirdTesting
import LocalVault
import Testing
import VaultAPI

@testable import LocalVaultServer

@Suite("Authentication and API keys")
struct AuthenticationTests {
    @Test(
        "anything but Bearer and an accepted key is 401 with one body that reveals nothing",
        arguments: [
            nil, "", "Bearer", "Bearer ", "Basic \(TestKeys.primary)", "Bearer sk_test_unknown",
            "Bearer \(TestKeys.primary) extra", "Bearer \(TestKeys.primary)x", "\(TestKeys.primary)",
            "Bearer  \(TestKeys.primary.dropLast())",
        ]
    )
    func rejected(authorization: String?) async throws {
        try await VaultHarness.run { _, client in
            var headers = HTTPFields()
            if let authorization { headers[.authorization] = authorization }
            for (method, path) in [(HTTPRequest.Method.get, "/vault/v1/kv"), (.get, "/vault/v1/unknown")] {
                let response = try await client.send(method, path, key: nil, headers: headers)
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
                #expect(try response.errorBody() == APIError.unauthorized.body)
                #expect(!response.text.contains("sk_"))
            }
        }
    }

    @Test("the scheme is case-insensitive")
    func schemeCase() async throws {
        try await VaultHarness.run { _, client in
            let headers: HTTPFields = [.authorization: "bearer \(TestKeys.primary)"]
            let response = try await client.send(.get, "/vault/v1/kv", key: nil, headers: headers)
            #expect(response.status == .ok)
        }
    }

    @Test(
        "the header parser: scheme in any case, spaces before the key, nothing else around it",
        arguments: [
            ("Bearer \(TestKeys.primary)", true), ("BEARER \(TestKeys.primary)", true),
            ("bEaReR    \(TestKeys.primary)", true), ("Bearer \(TestKeys.staging)", true),
            ("Bearer\t\(TestKeys.primary)", false), ("Bearer \(TestKeys.primary)\t", false),
            ("Bearer \(TestKeys.primary) ", false), ("Bearerx \(TestKeys.primary)", false),
            ("Bear \(TestKeys.primary)", false), (" Bearer \(TestKeys.primary)", false),
            ("Bearer \u{A0}\(TestKeys.primary)", false), ("Bearer \(TestKeys.primary)\u{2028}", false),
            ("Bearer \(TestKeys.primary.uppercased())", false), ("Bearer sk_test_primary_000\u{B9}", false),
        ]
    )
    func headerParsing(authorization: String, accepted: Bool) throws {
        let ring = try APIKeyRing(entries: TestKeys.entries)
        let key = try? AuthenticationMiddleware.authenticate(authorization: authorization, keys: ring)
        #expect((key != nil) == accepted)
        if let key { #expect(ring.key(forSecret: authorization.split(separator: " ").last!) == key) }
    }

    @Test("a key accepted by one ring is refused by a ring without it (nothing is remembered)")
    func noMemoryAcrossRings() throws {
        let full = try APIKeyRing(entries: TestKeys.entries)
        let revoked = try APIKeyRing(entries: TestKeys.entries.filter { $0.text != TestKeys.primary })
        for _ in 0..<3 {
            #expect(
                try AuthenticationMiddleware.authenticate(authorization: "Bearer \(TestKeys.primary)", keys: full).id
                    == full.key(forSecret: TestKeys.primary)?.id
            )
            #expect(throws: APIError.unauthorized) {
                try AuthenticationMiddleware.authenticate(authorization: "Bearer \(TestKeys.primary)", keys: revoked)
            }
        }
    }

    @Test("key entries: default and named environments, actor derived from the key")
    func entries() throws {
        let ring = try APIKeyRing(entries: APIKeyRing.entries(environmentValue: " sk_live_abcd , env_b:sk_test_wxyz,,"))
        let first = try #require(ring.key(forSecret: "sk_live_abcd"))
        #expect(first.environmentID == LocalVault.defaultEnvironmentID)
        #expect(first.actor.name == "sk_…abcd")
        // key_ + the first 24 hex digits of SHA-256("sk_live_abcd").
        #expect(first.actor.id == "key_60dc926dfc2eba1d630f5045")
        #expect(first.id == first.actor.id)
        let second = try #require(ring.key(forSecret: "sk_test_wxyz"))
        #expect(second.environmentID == "env_b")
        #expect(ring.key(forSecret: "sk_live_abc") == nil)
        #expect(!String(describing: first).contains("sk_live"))
    }

    @Test("key files: one entry a line, comments and blank lines ignored")
    func keyFile() throws {
        let contents = """
            # local development keys

            sk_test_one   # the first key
              environment_staging:sk_test_two
            #sk_test_commented_out
            """
        let entries = APIKeyRing.entries(fileContents: contents, origin: "keys.txt")
        #expect(entries.map(\.text) == ["sk_test_one", "environment_staging:sk_test_two"])
        #expect(entries.map(\.origin) == ["keys.txt line 3", "keys.txt line 4"])
        let ring = try APIKeyRing(entries: entries)
        #expect(ring.keys.count == 2)
        #expect(ring.key(forSecret: "sk_test_commented_out") == nil)
    }

    @Test(
        "invalid entries are refused with their place, never their value",
        arguments: [
            ("pk_test_secretvalue", "is not an API key"),
            ("sk_", "is not an API key"),
            ("env with space:sk_test_secretvalue", "environment id"),
            (":sk_test_secretvalue", "environment id"),
            ("sk_test_secret\u{7F}value", "printable ASCII"),
        ]
    )
    func invalidEntries(entry: String, fragment: String) throws {
        let error = #expect(throws: APIKeyConfigurationError.self) {
            try APIKeyRing(entries: [APIKeyRing.Entry(entry, origin: "keys.txt line 9")])
        }
        #expect(error?.description.contains("keys.txt line 9") == true)
        #expect(error?.description.contains(fragment) == true)
        #expect(error?.description.contains("secret") == false)
    }

    @Test("no keys, or one key in two environments, is refused")
    func conflictingEntries() throws {
        #expect(throws: APIKeyConfigurationError.self) { try APIKeyRing(entries: []) }
        #expect(throws: APIKeyConfigurationError.self) {
            try APIKeyRing(entries: APIKeyRing.entries(environmentValue: "sk_test_a,env_b:sk_test_a"))
        }
    }
}
