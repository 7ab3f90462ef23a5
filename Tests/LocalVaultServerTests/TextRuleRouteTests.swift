import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VaultAPI

@testable import LocalVaultServer

/// The text rules over HTTP: control characters in names and contexts are 422 naming the rule,
/// text from the URL that holds one finds nothing, a body that is not UTF-8 is 400 whichever field
/// holds the bad bytes, and no error body quotes what the client sent.
@Suite("Text rules over HTTP")
struct TextRuleRouteTests {
    @Test(
        "a NUL in a context value or key is 422, and the clean context keeps working",
        arguments: [
            #"{"context": {"organization_id": "org_next\u0000"}}"#,
            #"{"context": {"organization_id\u0000zz": "org_next"}}"#,
            #"{"context": {"organization_id": "org_next\u0000"}, "x": 1}"#,
        ]
    )
    func nulInContext(body: String) async throws {
        try await VaultHarness.run { _, client in
            let response = try await client.send(.post, "/vault/v1/keys/data-key", json: body)
            #expect(response.status == .unprocessableContent, "\(response.text)")
            #expect(try response.errorBody().error?.contains("control characters") == true, "\(response.text)")
            #expect(!response.text.contains("org_next") && !response.text.contains("zz"))

            let clean = try await client.sendExpecting(
                DataKeyResponse.self,
                .post,
                "/vault/v1/keys/data-key",
                json: #"{"context": {"organization_id": "org_next"}}"#
            )
            let object = try await client.createObject(name: "after", context: ["organization_id": "org_next"])
            #expect(try await client.sendExpecting(VaultObject.self, .get, "/vault/v1/kv/\(object.id)").value != "")
            let decrypted = try await client.sendExpecting(
                DecryptDataKeyResponse.self,
                .post,
                "/vault/v1/keys/decrypt",
                json: try jsonString(DecryptDataKeyRequest(keys: clean.encryptedKeys))
            )
            #expect(decrypted.dataKey == clean.dataKey)
        }
    }

    @Test(
        "control characters in names, context keys and values are 422 naming the rule",
        arguments: [#"\u0000"#, #"\u0001"#, #"\n"#, #"\u001f"#, #"\u007f"#, #"\u0085"#, "\u{85}", #"\u009f"#]
    )
    func controlCharacters(control: String) async throws {
        try await VaultHarness.run { _, client in
            for body in [
                #"{"name": "stripe\#(control)x", "value": "v", "key_context": {"k": "v"}}"#,
                #"{"name": "n", "value": "v", "key_context": {"k\#(control)": "v"}}"#,
                #"{"name": "n", "value": "v", "key_context": {"k": "v\#(control)"}}"#,
            ] {
                let response = try await client.send(.post, "/vault/v1/kv", json: body)
                #expect(response.status == .unprocessableContent, "\(body): \(response.text)")
                #expect(try response.errorBody().error?.contains("control characters") == true, "\(response.text)")
                #expect(!response.text.contains("stripe"))
            }
            let rekey = try await client.send(
                .post,
                "/vault/v1/keys/rekey",
                json: #"{"encrypted_keys": "AAAA", "context": {"k": "v\#(control)"}}"#
            )
            #expect(rekey.status == .unprocessableContent, "\(rekey.text)")
            #expect(try await client.send(.get, "/vault/v1/kv/name/stripe").status == .notFound)
        }
    }

    @Test("ids, names, cursors, searches and version checks from the URL never match cut at a NUL")
    func urlText() async throws {
        try await VaultHarness.run { _, client in
            let object = try await client.createObject(name: "stripe", value: "hunter2")
            let version = try #require(object.versionID)
            for path in [
                "/vault/v1/kv/\(object.id)%00junk", "/vault/v1/kv/\(object.id)%00",
                "/vault/v1/kv/\(object.id)%00junk/metadata", "/vault/v1/kv/\(object.id)%00/versions",
                "/vault/v1/kv/name/stripe%00x", "/vault/v1/kv/name/stripe%0A",
            ] {
                let response = try await client.send(.get, path)
                #expect(response.status == .notFound, "\(path): \(response.text)")
                #expect(!response.text.contains("hunter2") && !response.text.contains("junk"))
            }
            let update = try await client.send(.put, "/vault/v1/kv/\(object.id)%00", json: #"{"value": "x"}"#)
            #expect(update.status == .notFound)
            let delete = try await client.send(.delete, "/vault/v1/kv/\(object.id)%00junk")
            #expect(delete.status == .notFound)
            let staleDelete = try await client.send(.delete, "/vault/v1/kv/\(object.id)?version_check=\(version)%00")
            #expect(staleDelete.status == .conflict)
            let staleUpdate = try await client.send(
                .put,
                "/vault/v1/kv/\(object.id)",
                json: #"{"value": "x", "version_check": "\#(version)\u0000"}"#
            )
            #expect(staleUpdate.status == .conflict)
            for query in ["after=\(object.id)%00", "before=\(object.id)%00x", "search=str%00", "search=%7F"] {
                let response = try await client.send(.get, "/vault/v1/kv?\(query)")
                #expect(response.status == .unprocessableContent, "\(query): \(response.text)")
                #expect(!response.text.contains(object.id))
            }
            // Untouched.
            let read = try await client.sendExpecting(VaultObject.self, .get, "/vault/v1/kv/\(object.id)")
            #expect(read.value == "hunter2" && read.metadata.versionID == version)
        }
    }

    @Test("an Idempotency-Key holding a control character is 400", arguments: ["ECHO\tx", "ECHO\u{85}x"])
    func idempotencyKey(key: String) async throws {
        try await VaultHarness.run { _, client in
            var headers = HTTPFields()
            headers[HTTPFields.Element.Name("Idempotency-Key")!] = key
            let response = try await client.send(
                .post,
                "/vault/v1/kv",
                json: #"{"name": "n", "value": "v", "key_context": {"k": "v"}}"#,
                headers: headers
            )
            #expect(response.status == .badRequest, "\(response.text)")
            #expect(try response.errorBody().error?.contains("control characters") == true)
            #expect(!response.text.contains("ECHO"))
        }
    }

    /// A body whose `field` holds the bytes C3 28 (not UTF-8).
    static func invalidUTF8Body(_ template: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        let parts = template.split(separator: "BAD", omittingEmptySubsequences: false)
        buffer.writeString(String(parts[0]))
        buffer.writeBytes([0xC3, 0x28, 0xFF])
        buffer.writeString(String(parts[1]))
        return buffer
    }

    @Test(
        "a body that is not UTF-8 is 400 whichever field holds the bytes",
        arguments: [
            ("/vault/v1/kv", .post, #"{"name": "nBAD", "value": "v", "key_context": {"k": "v"}}"#),
            ("/vault/v1/kv", .post, #"{"name": "n", "value": "vBAD", "key_context": {"k": "v"}}"#),
            ("/vault/v1/kv", .post, #"{"name": "n", "value": "v", "key_context": {"kBAD": "v"}}"#),
            ("/vault/v1/kv", .post, #"{"name": "n", "value": "v", "key_context": {"k": "vBAD"}}"#),
            ("/vault/v1/kv", .post, #"{"name": "n", "value": "v", "key_context": {"k": "v"}, "xBAD": 1}"#),
            ("/vault/v1/keys/data-key", .post, #"{"context": {"kBAD": "v"}}"#),
            ("/vault/v1/keys/data-key", .post, #"{"context": {"k": "vBAD"}}"#),
            ("/vault/v1/keys/decrypt", .post, #"{"keys": "AAAABAD"}"#),
            ("/vault/v1/keys/rekey", .post, #"{"encrypted_keys": "AABAD", "context": {"k": "v"}}"#),
            ("/vault/v1/keys/rekey", .post, #"{"encrypted_keys": "AAAA", "context": {"k": "vBAD"}}"#),
            ("/vault/v1/kv/ID", .put, #"{"value": "vBAD"}"#),
            ("/vault/v1/kv/ID", .put, #"{"value": "v", "version_check": "BAD"}"#),
        ] as [(String, HTTPRequest.Method, String)]
    )
    func invalidUTF8(path: String, method: HTTPRequest.Method, template: String) async throws {
        try await VaultHarness.run { _, client in
            let object = try await client.createObject(name: "existing")
            let response = try await client.executeRequest(
                uri: path.replacingOccurrences(of: "ID", with: object.id),
                method: method,
                headers: [.authorization: "Bearer \(TestKeys.primary)", .contentType: "application/json"],
                body: Self.invalidUTF8Body(template)
            )
            #expect(response.status == .badRequest, "\(template): \(response.text)")
            #expect(try response.errorBody().error == "the request body is not valid UTF-8 JSON", "\(response.text)")
        }
    }

    @Test(
        "an escape that is no Unicode text (a lone surrogate) is 400 whichever field holds it",
        arguments: [
            ("/vault/v1/kv", #"{"name": "\ud800", "value": "v", "key_context": {"k": "v"}}"#),
            ("/vault/v1/kv", #"{"name": "n", "value": "\ud800", "key_context": {"k": "v"}}"#),
            ("/vault/v1/kv", #"{"name": "n", "value": "v", "key_context": {"\ud800": "v"}}"#),
            ("/vault/v1/kv", #"{"name": "n", "value": "v", "key_context": {"k": "\udc00x"}}"#),
            ("/vault/v1/keys/data-key", #"{"context": {"k": "\ud800"}}"#),
            ("/vault/v1/keys/data-key", #"{"context": {"\ud800": "v"}}"#),
        ]
    )
    func loneSurrogates(path: String, body: String) async throws {
        try await VaultHarness.run { _, client in
            let response = try await client.send(.post, path, json: body)
            #expect(response.status == .badRequest, "\(body): \(response.text)")
            #expect(try response.errorBody().error?.contains("not valid") == true, "\(response.text)")
        }
    }

    @Test(
        "path segments and query parameters that are not UTF-8 are 400",
        arguments: [
            "/vault/v1/kv/name/n%C3%28", "/vault/v1/kv/%FF", "/vault/v1/kv/%FF/versions", "/vault/v1/kv?search=%C3%28",
            "/vault/v1/kv?after=%FF", "/vault/v1/kv?%FF=1",
        ]
    )
    func invalidUTF8InURL(uri: String) async throws {
        try await VaultHarness.run { _, client in
            let response = try await client.send(.get, uri)
            #expect(response.status == .badRequest, "\(uri): \(response.text)")
            #expect(try response.errorBody().error?.contains("UTF-8") == true)
        }
    }

    @Test("byte caps: a name or context of few characters and many bytes is 422 naming the rule")
    func byteCaps() async throws {
        try await VaultHarness.run { _, client in
            let heavy = String(repeating: "e\u{301}\u{302}\u{303}\u{304}", count: 200)
            for (request, rule) in [
                (CreateObjectRequest(name: heavy, value: "v", keyContext: ["k": "v"]), "at most 800 bytes"),
                (CreateObjectRequest(name: "n", value: "v", keyContext: [String(heavy.prefix(120)): "v"]), "480 bytes"),
                (CreateObjectRequest(name: "n", value: "v", keyContext: ["k": heavy + heavy]), "2000 bytes"),
            ] {
                let response = try await client.send(.post, "/vault/v1/kv", json: try jsonString(request))
                #expect(response.status == .unprocessableContent, "\(response.text)")
                #expect(try response.errorBody().error?.contains(rule) == true, "\(response.text)")
                #expect(!response.text.contains("e\u{301}"))
            }
            _ = try await client.createObject(name: String(repeating: "𠜎", count: 200))
        }
    }

    @Test("error bodies never quote crafted input")
    func noEcho() async throws {
        try await VaultHarness.run { _, client in
            let marker = "ECHO_MARKER"
            let long = marker + String(repeating: "k", count: 130)
            for (path, body) in [
                ("/vault/v1/keys/data-key", #"{"context": {"\#(long)": "v"}}"#),
                ("/vault/v1/keys/data-key", #"{"context": {"\#(marker)": 5}}"#),
                ("/vault/v1/keys/data-key", #"{"context": {"\#(marker)": ""}}"#),
                ("/vault/v1/keys/data-key", #"{"context": {"\#(marker)\u0000": "v"}}"#),
                ("/vault/v1/keys/data-key", #"{"context": {"k": "\#(marker)\u0007"}}"#),
                ("/vault/v1/keys/data-key", #"{"context": {"\#(marker)": "\#(String(repeating: "v", count: 501))"}}"#),
                ("/vault/v1/kv", #"{"name": "\#(marker)\u0000", "value": "v", "key_context": {"k": "v"}}"#),
                ("/vault/v1/kv", #"{"name": "\#(long)\#(long)", "value": "v", "key_context": {"k": "v"}}"#),
                ("/vault/v1/kv", #"{"name": "n", "value": "v", "key_context": {"\#(marker)": ["x"]}}"#),
                ("/vault/v1/keys/decrypt", #"{"keys": "\#(marker)"}"#),
                ("/vault/v1/keys/rekey", #"{"encrypted_keys": "\#(marker)", "context": {"k": "v"}}"#),
            ] {
                let response = try await client.send(.post, path, json: body)
                #expect((400..<500).contains(response.status.code), "\(body): \(response.text)")
                #expect(!response.text.contains(marker), "\(body): \(response.text)")
            }
            for uri in [
                "/vault/v1/kv/\(marker)", "/vault/v1/kv/name/\(marker)%00", "/vault/v1/kv?after=\(marker)",
                "/vault/v1/kv?search=\(marker)%01", "/vault/v1/kv?limit=\(marker)", "/vault/v1/kv?order=\(marker)",
                "/vault/v1/kv?updated_after=\(marker)",
            ] {
                let response = try await client.send(.get, uri)
                #expect((400..<500).contains(response.status.code), "\(uri): \(response.text)")
                #expect(!response.text.contains(marker), "\(uri): \(response.text)")
            }
        }
    }
}
