import EnvelopeCrypto
import Foundation
import LocalVault
import Testing

@testable import CustomerKeyProviders

@Suite("Google service-account JWT bearer grant")
struct GoogleServiceAccountTests {
    @Test("the assertion is an RS256 JWT with Google's claims, signed by the service account's key")
    func assertion() throws {
        let folder = try TemporaryFolder()
        let key = try RSAPrivateKey.generate()
        let json = """
            {"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com", "private_key_id": "kid-1",
             "private_key": \(String(decoding: try JSONEncoder().encode(try key.pkcs8PEM()), as: UTF8.self)),
             "token_uri": "https://oauth2.googleapis.com/token"}
            """
        let account = try GoogleServiceAccount(file: try folder.write("sa.json", json), keyID: "cmk")
        let issued = Date(timeIntervalSince1970: 1_700_000_000)
        let jwt = try account.assertion(issuedAt: issued)
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        try #require(parts.count == 3)
        let header = try JSONSerialization.jsonObject(with: Data(base64URLDecode(parts[0]))) as? [String: Any]
        let claims = try JSONSerialization.jsonObject(with: Data(base64URLDecode(parts[1]))) as? [String: Any]
        #expect(header?["alg"] as? String == "RS256")
        #expect(header?["typ"] as? String == "JWT")
        #expect(header?["kid"] as? String == "kid-1")
        #expect(claims?["iss"] as? String == "sa@p.iam.gserviceaccount.com")
        #expect(claims?["scope"] as? String == "https://www.googleapis.com/auth/cloudkms")
        #expect(claims?["aud"] as? String == "https://oauth2.googleapis.com/token")
        #expect((claims?["iat"] as? NSNumber)?.int64Value == 1_700_000_000)
        #expect((claims?["exp"] as? NSNumber)?.int64Value == 1_700_003_600)
        let signingInput = Array((parts[0] + "." + parts[1]).utf8)
        #expect(key.publicKey.verifyRS256(signature: try base64URLDecode(parts[2]), message: signingInput))
        #expect(!jwt.contains("="))
        #expect(!jwt.contains("+") && !jwt.contains("/"))
    }

    @Test("unreadable files, other JSON and bad private keys are configuration errors without the file's contents")
    func invalidKeyFiles() throws {
        let folder = try TemporaryFolder()
        let secretLooking =
            "-----BEGIN PRIVATE KEY-----\\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAw\\n-----END PRIVATE KEY-----\\n"
        let files = [
            try folder.write("garbage.json", "not json"),
            try folder.write("user.json", #"{"type": "authorized_user", "client_email": "a@b", "private_key": "x"}"#),
            try folder.write("bad-key.json", #"{"client_email": "a@b", "private_key": "\#(secretLooking)"}"#),
            (folder.path as NSString).appendingPathComponent("missing.json"),
        ]
        for file in files {
            let error = #expect(throws: LocalVaultError.self) { try GoogleServiceAccount(file: file, keyID: "cmk_x") }
            #expect(error?.message.contains("cmk_x") == true)
            #expect(error?.message.contains("MIIB") == false)
        }
    }
}
