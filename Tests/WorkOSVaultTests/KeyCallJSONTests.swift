import EnvelopeCrypto
import Foundation
import Testing
import VaultAPI

@testable import WorkOSVault

/// The hand-written JSON of the two hot key calls: what it writes reads back through
/// `JSONDecoder` to the same values, whatever the context holds, and what it reads is exactly what
/// `JSONDecoder` reads, or nothing (the caller then falls back to `JSONDecoder`).
@Suite struct KeyCallJSONTests {
    static let hostileValues: [String] = [
        #"quote " inside"#, #"back\slash"#, #"\""#, #"\\u0000"#, "new\nline", "cr\rtab\t", "nul\u{0}byte",
        "bell\u{7} backspace\u{8} formfeed\u{C} escape\u{1B} unit\u{1F}", "del\u{7F}", "</script>",
        "line separator\u{2028}paragraph\u{2029}", "émoji 🔑 ключ 鍵", "slash / and \\/", "{\"injected\":1}",
        "\",\"org\":\"evil",
    ]

    @Test(arguments: hostileValues)
    func contextValuesRoundTripThroughJSONDecoder(_ value: String) throws {
        let context: KeyContext = ["organization_id": value, value: "as a key", "plain": "x"]
        let body = KeyCallJSON.createDataKeyBody(context)
        let decoded = try JSONDecoder().decode(CreateDataKeyRequest.self, from: Data(body))
        #expect(decoded.context == context)
        #expect(!body.contains(where: { $0 < 0x20 }), "control characters must be escaped")
    }

    @Test func theCreateBodyListsPairsInKeyOrder() throws {
        let context: KeyContext = ["b": "2", "a": "1", "c": "3"]
        let body = String(decoding: KeyCallJSON.createDataKeyBody(context), as: UTF8.self)
        #expect(body == #"{"context":{"a":"1","b":"2","c":"3"}}"#)
    }

    @Test func theDecryptBodyReadsBack() throws {
        let keys = Base64.encode(Array(0...255).map(UInt8.init))  // holds + and /
        let body = KeyCallJSON.decryptBody(keys: keys)
        #expect(try JSONDecoder().decode(DecryptDataKeyRequest.self, from: Data(body)).keys == keys)
    }

    static let dataKeyResponses: [String] = [
        #"{"id":"dk_1","data_key":"AAAA","encrypted_keys":"BBBB","context":{"org":"a"}}"#,
        #"{ "context" : { "org" : "a" , "b" : "ü" } , "encrypted_keys":"B/+=", "data_key":"K", "id":"dk_2" }"#,
        "\n{\"id\":\"x\",\"data_key\":\"y\",\"encrypted_keys\":\"z\",\"context\":{},\"extra\":\"ignored\"}\n",
    ]

    @Test(arguments: dataKeyResponses)
    func theDataKeyFastPathReadsWhatJSONDecoderReads(_ text: String) throws {
        let bytes = Array(text.utf8)
        let expected = try JSONDecoder().decode(DataKeyResponse.self, from: Data(bytes))
        #expect(KeyCallJSON.dataKeyResponse(bytes) == expected)
    }

    @Test func theDecryptFastPathReadsWhatJSONDecoderReads() throws {
        let bytes = Array(#"{"id":"dk_9","data_key":"S2V5"}"#.utf8)
        let expected = try JSONDecoder().decode(DecryptDataKeyResponse.self, from: Data(bytes))
        #expect(KeyCallJSON.decryptDataKeyResponse(bytes) == expected)
    }

    /// Each is left to JSONDecoder: valid JSON the fast path does not read, or not JSON at all.
    static let leftToJSONDecoder: [String] = [
        "",
        "null",
        "[]",
        #"{"id":"dk_1","data_key":"AA\/AA"}"#,  // an escape
        #"{"id":"dk_\u0031","data_key":"AA"}"#,
        #"{"id":1,"data_key":"AA"}"#,  // a number
        #"{"id":"dk","data_key":null}"#,
        #"{"id":"dk","data_key":"AA","other":true}"#,
        #"{"id":"dk","data_key":"AA","other":[]}"#,
        #"{"id":"dk","data_key":"AA","id":"again"}"#,  // a duplicate key
        #"{"id":"dk","data_key":"AA"} trailing"#,
        #"{"id":"dk","data_key":"AA",}"#,
        #"{"id":"dk","data_key":"AA""#,
        #"{"id":"dk" "data_key":"AA"}"#,
        #"{"data_key":"AA"}"#,  // a missing field
        "{\"id\":\"tab\there\",\"data_key\":\"AA\"}",  // a raw control character
        #"{"id":"dk","data_key":{"nested":"object"}}"#,
        #"{"id":"dk","data_key":"AA","context":{"a":{"deeper":"x"}}}"#,
    ]

    @Test(arguments: leftToJSONDecoder)
    func shapesOutsideTheFastPathAreLeftToJSONDecoder(_ text: String) {
        #expect(KeyCallJSON.decryptDataKeyResponse(Array(text.utf8)) == nil)
    }

    @Test func invalidUTF8IsLeftToJSONDecoder() {
        let bytes = Array(#"{"id":""#.utf8) + [0xFF, 0xFE] + Array(#"","data_key":"AA"}"#.utf8)
        #expect(KeyCallJSON.decryptDataKeyResponse(bytes) == nil)
    }

    @Test func aDataKeyResponseNeedsAContextObject() {
        let missing = Array(#"{"id":"x","data_key":"y","encrypted_keys":"z"}"#.utf8)
        #expect(KeyCallJSON.dataKeyResponse(missing) == nil)
        let duplicate = Array(#"{"id":"x","data_key":"y","encrypted_keys":"z","context":{"a":"1","a":"2"}}"#.utf8)
        #expect(KeyCallJSON.dataKeyResponse(duplicate) == nil)
    }

    @Test func idempotencyKeysAreLowercaseVersion4UUIDs() {
        var seen = Set<String>()
        for _ in 0..<1_000 {
            let key = VaultRESTClient.idempotencyKey()
            let uuid = UUID(uuidString: key)
            #expect(uuid != nil)
            #expect(key == key.lowercased())
            #expect(key.count == 36)
            let characters = Array(key)
            #expect(characters[14] == "4")
            #expect("89ab".contains(characters[19]))
            seen.insert(key)
        }
        #expect(seen.count == 1_000)
    }
}
