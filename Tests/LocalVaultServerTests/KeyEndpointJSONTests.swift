import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultAPI

@testable import LocalVaultServer

@Suite("Hand-written JSON of the key endpoints")
struct KeyEndpointJSONTests {
    /// Strings that need every escape JSON has, and some that need none but look like they might.
    static let hostileStrings: [String] = [
        "org_1",
        #"quote " and backslash \ and slash / and \/"#,
        String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }),
        "\u{7F} DEL, \u{85} NEL, \u{2028} line separator, \u{2029}, \u{FEFF} BOM",
        "é, 日本語, 🔑 and a lone combining mark \u{301}",
        "</script><!-- \"}, {\"id\": \"injected\" -->",
        "\\u0000 spelled out, not a NUL",
        String(repeating: "x\"", count: 250),
    ]

    /// Keys whose order differs between a byte-wise and a human sort.
    static let awkwardKeys = [
        "a10", "a9", "B", "a", "_x", "Z", "é", "A", "a_b", "a-b", "1", "10", "2", "z\u{301}", "éz", "Ω", "aB", "Ab",
    ]

    /// What Foundation's encoder, set up as `JSONResponse` sets it up, writes for the same value.
    static func foundationBytes(_ value: some Encodable) throws -> [UInt8] {
        let encoder = VaultJSON.encoder()
        encoder.outputFormatting.insert(.sortedKeys)
        return Array(try encoder.encode(value))
    }

    @Test("data-key responses are byte-identical to Foundation's encoding", arguments: hostileStrings)
    func dataKeyResponseMatchesFoundation(text: String) throws {
        let response = DataKeyResponse(
            id: "3f2c1a9e-7b6d-4c5e-8f90-123456789abc",
            dataKey: "q83vEjRWeJA/+frvESIzRFVmd4iZqrvM3e7/ABEiM0Q=",
            encryptedKeys: "V09TLkVLTS52MQA/+/+abc==",
            context: KeyContext(["organization_id": text, text.isEmpty ? "k" : text: "v", "z\(text)": text])
        )
        let bytes = Array(buffer: KeyEndpointJSON.encode(response))
        #expect(bytes == (try Self.foundationBytes(response)))
        #expect(try VaultJSON.decoder().decode(DataKeyResponse.self, from: Data(bytes)) == response)
    }

    @Test("context keys come out in Foundation's sorted-keys order")
    func contextKeyOrder() throws {
        let response = DataKeyResponse(
            id: "id",
            dataKey: "key",
            encryptedKeys: "keys",
            context: KeyContext(Dictionary(uniqueKeysWithValues: Self.awkwardKeys.map { ($0, "v_\($0)") }))
        )
        let bytes = Array(buffer: KeyEndpointJSON.encode(response))
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == String(decoding: try Self.foundationBytes(response), as: UTF8.self)
        )
    }

    @Test("decrypt responses are byte-identical to Foundation's encoding", arguments: hostileStrings)
    func decryptResponseMatchesFoundation(text: String) throws {
        let response = DecryptDataKeyResponse(id: text, dataKey: "q83vEjRWeJA/+frvESIzRFVmd4iZqrvM3e7/ABEiM0Q=")
        let bytes = Array(buffer: KeyEndpointJSON.encode(response))
        #expect(bytes == (try Self.foundationBytes(response)))
        #expect(try VaultJSON.decoder().decode(DecryptDataKeyResponse.self, from: Data(bytes)) == response)
    }

    @Test(
        "request bodies in the fast path read as Foundation reads them",
        arguments: [
            #"{"context":{"organization_id":"org_1"}}"#,
            #"  {  "context" : { "a" : "1" , "b":"2", "é": "日本 🔑" }  }  "#,
            "{\n\t\"context\":\r\n{\"x\":\"/\"}\n}\n",
            #"{"context":{}}"#,
        ]
    )
    func dataKeyFastPath(body: String) throws {
        let fast = KeyEndpointJSON.decodeDataKeyRequest(ByteBuffer(string: body))
        #expect(fast != nil)
        #expect(fast == (try VaultJSON.decoder().decode(CreateDataKeyRequest.self, from: Data(body.utf8))))
    }

    @Test(
        "anything outside the fast path's subset is left to the general decoder",
        arguments: [
            #"{"context":{"a":"b"},"unknown":1}"#,
            #"{"context":{"a":"b"},"context":{"a":"c"}}"#,
            #"{"context":{"a":"b","a":"c"}}"#,
            #"{"context":{"a":"b\"c"}}"#,
            #"{"context":{"a":"\u0041"}}"#,
            #"{"context":{"a":42}}"#,
            #"{"context":{"a":null}}"#,
            #"{"context":"org"}"#,
            #"{"context":{"a":"b"}} trailing"#,
            #"{"context":{"a":"b"},}"#,
            #"{"context":{"a":"b",}}"#,
            #"{"context":{"a":"b"}"#,
            #"{"context":{"a":"b}}"#,
            "{\"context\":{\"a\":\"tab\there\"}}",
            #"{"contexts":{"a":"b"}}"#,
            #"{}"#,
            #"["context"]"#,
            "\u{FEFF}{\"context\":{\"a\":\"b\"}}",
            "",
        ]
    )
    func dataKeyOutsideFastPath(body: String) {
        #expect(KeyEndpointJSON.decodeDataKeyRequest(ByteBuffer(string: body)) == nil)
    }

    @Test("invalid UTF-8 is left to the general decoder")
    func invalidUTF8() {
        var body = ByteBuffer(string: #"{"context":{"a":""#)
        body.writeBytes([0xC3, 0x28])
        body.writeString(#""}}"#)
        #expect(KeyEndpointJSON.decodeDataKeyRequest(body) == nil)
        var keys = ByteBuffer(string: #"{"keys":""#)
        keys.writeBytes([0xFF])
        keys.writeString(#""}"#)
        #expect(KeyEndpointJSON.decodeDecryptRequest(keys) == nil)
    }

    @Test("decrypt bodies: the fast path and what it leaves alone")
    func decryptRequests() throws {
        let body = #" { "keys" : "V09TLkVLTS52MQA/+/+abc==" } "#
        let fast = KeyEndpointJSON.decodeDecryptRequest(ByteBuffer(string: body))
        #expect(fast == (try VaultJSON.decoder().decode(DecryptDataKeyRequest.self, from: Data(body.utf8))))
        for other in [
            #"{"keys":"a\/b"}"#, #"{"keys":12}"#, #"{"keys":"a","keys":"b"}"#, #"{"keys":"a","extra":true}"#,
            #"{"key":"a"}"#, #"{"keys":"a"} x"#, #"{"keys":"a""#,
        ] {
            #expect(KeyEndpointJSON.decodeDecryptRequest(ByteBuffer(string: other)) == nil, "\(other)")
        }
    }

    @Test("bodies outside the fast path still get the general decoder's answers")
    func fallbackThroughTheRoute() async throws {
        try await VaultHarness.run { _, client in
            let escaped = try await client.sendExpecting(
                DataKeyResponse.self,
                .post,
                "/vault/v1/keys/data-key",
                json: #"{"context": {"org\"id": "a\\b\u00e9\/"}}"#
            )
            #expect(escaped.context == KeyContext(["org\"id": "a\\b\u{e9}/"]))

            let decrypted = try await client.sendExpecting(
                DecryptDataKeyResponse.self,
                .post,
                "/vault/v1/keys/decrypt",
                json: #"{"keys": "\#(escaped.encryptedKeys.replacingOccurrences(of: "/", with: #"\/"#))", "x": [1]}"#
            )
            #expect(decrypted.dataKey == escaped.dataKey)

            for (body, status, fragment) in [
                (#"{"context": {"a": 1}, "x": 1}"#, 422, "must be a string"),
                (#"{"context": {"a": "b"}} }"#, 400, "not valid JSON"),
                (#"{"context": {"a": "b"}, "x": }"#, 400, "not valid JSON"),
                (#"{"context": {"a": "b\u0000"}, "x": {}}"#, 422, "control characters"),
            ] {
                let response = try await client.send(.post, "/vault/v1/keys/data-key", json: body)
                #expect(response.status.code == status, "\(body): \(response.text)")
                if status != 200 {
                    #expect(try response.errorBody().error?.contains(fragment) == true, "\(body): \(response.text)")
                }
            }
            let response = try await client.send(.post, "/vault/v1/keys/decrypt", json: #"{"keys": null}"#)
            #expect(response.status.code == 422)
            #expect(try response.errorBody().error?.contains("field 'keys'") == true, "\(response.text)")
        }
    }
}
