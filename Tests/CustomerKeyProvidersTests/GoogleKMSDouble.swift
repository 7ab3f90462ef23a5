import EnvelopeCrypto
import Foundation
import Hummingbird
import Synchronization

/// A contract double of Google's OAuth2 token endpoint and Cloud KMS `encrypt`/`decrypt`
/// (cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys), in process.
///
/// Token endpoint (`POST /token`): the JWT bearer grant; the assertion's RS256 signature is
/// verified with the service account's public key, and its claims (`iss`, `scope`, `aud` = this
/// endpoint, `iat`, `exp` at most an hour later) are checked, as Google does; refusals are
/// `400 {"error":"invalid_grant"}`. Cloud KMS (`POST /v1/{name}:encrypt|decrypt`): bearer tokens
/// it issued and that have not expired or been revoked (else 401 UNAUTHENTICATED), the one
/// configured key (else 404), real AES-256-GCM with the additional authenticated data; a disabled
/// key version is 400 FAILED_PRECONDITION, a missing grant 403 PERMISSION_DENIED, and a
/// ciphertext that does not open 400 INVALID_ARGUMENT.
final class GoogleKMSDouble: Sendable {
    static let clientEmail = "vault-byok@test-project.iam.gserviceaccount.com"
    static let resource = "projects/test-project/locations/global/keyRings/vault/cryptoKeys/org_abc"

    struct State {
        var baseURL = ""
        /// Issued tokens and when they expire.
        var tokens: [String: ContinuousClock.Instant] = [:]
        var tokenGrants = 0
        var kmsCalls = 0
        var expiresIn = 3600
        var keyEnabled = true
        var granted = true
        /// Every token, even a fresh one, is refused (the service account lost its access).
        var refuseAllTokens = false
        /// The `iss`, `scope` and `aud` claims of the last assertion accepted.
        var lastClaims: [String: String] = [:]
    }

    let serviceAccountKey: RSAPrivateKey
    let tokenFaults = FaultQueue()
    let kmsFaults = FaultQueue()
    let state = Mutex(State())
    private let keyMaterial: DataKey

    init() throws {
        serviceAccountKey = try RSAPrivateKey.generate()
        keyMaterial = try DataKey.generate()
    }

    var baseURL: String { state.withLock { $0.baseURL } }
    var tokenURI: String { baseURL + "/token" }
    var tokenGrants: Int { state.withLock { $0.tokenGrants } }
    var kmsCalls: Int { state.withLock { $0.kmsCalls } }

    /// The service-account JSON key file Google would hand out for this double.
    func credentialsJSON(tokenURI: String? = nil) throws -> String {
        let object: [String: Any] = [
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": "0123456789abcdef",
            "private_key": try serviceAccountKey.pkcs8PEM(),
            "client_email": Self.clientEmail,
            "client_id": "100000000000000000001",
            "token_uri": tokenURI ?? self.tokenURI,
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    func revokeAllTokens() {
        state.withLock { $0.tokens.removeAll() }
    }

    /// Runs the double for the duration of `body`.
    func run(_ body: @Sendable (GoogleKMSDouble) async throws -> Void) async throws {
        let router = Router()
        router.post("/token") { request, context in
            try await self.token(ContractServer.form(ContractServer.body(of: request, context: context)))
        }
        router.post("/v1/**") { request, context in
            try await self.kms(request, body: ContractServer.body(of: request, context: context))
        }
        try await ContractServer.run(router) { baseURL in
            self.state.withLock { $0.baseURL = baseURL }
            try await body(self)
        }
    }

    // MARK: - Token endpoint

    private func token(_ form: [String: String]) async throws -> Response {
        if let fault = tokenFaults.next() {
            switch fault {
            case .status(let status):
                return ContractServer.json(
                    status,
                    ["error": status == 429 ? "rate_limit_exceeded" : "internal_failure"]
                )
            case .delay(let duration):
                try await Task.sleep(for: duration)
            }
        }
        guard form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer", let assertion = form["assertion"]
        else {
            return ContractServer.json(
                400,
                ["error": "unsupported_grant_type", "error_description": "Invalid grant_type"]
            )
        }
        guard let claims = verifiedClaims(assertion) else {
            return ContractServer.json(400, ["error": "invalid_grant", "error_description": "Invalid JWT Signature."])
        }
        let token = ContractServer.newToken(prefix: "ya29.test-")
        let recorded = claims.compactMapValues { $0 as? String }.filter { ["iss", "scope", "aud"].contains($0.key) }
        let expiresIn = state.withLock { state in
            state.tokenGrants += 1
            state.lastClaims = recorded
            state.tokens[token] = .now + .seconds(state.expiresIn)
            return state.expiresIn
        }
        return ContractServer.json(200, ["access_token": token, "expires_in": expiresIn, "token_type": "Bearer"])
    }

    /// The claims of an assertion whose signature and claims Google would accept, else nil.
    private func verifiedClaims(_ assertion: String) -> [String: Any]? {
        let parts = assertion.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3,
            let headerBytes = try? base64URLDecode(parts[0]),
            let claimBytes = try? base64URLDecode(parts[1]),
            let signature = try? base64URLDecode(parts[2]),
            let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any],
            let claims = try? JSONSerialization.jsonObject(with: Data(claimBytes)) as? [String: Any],
            header["alg"] as? String == "RS256",
            serviceAccountKey.publicKey.verifyRS256(
                signature: signature,
                message: Array((parts[0] + "." + parts[1]).utf8)
            )
        else { return nil }
        let now = Int64(Date().timeIntervalSince1970)
        guard claims["iss"] as? String == Self.clientEmail,
            (claims["scope"] as? String)?.split(separator: " ").contains("https://www.googleapis.com/auth/cloudkms")
                == true,
            claims["aud"] as? String == tokenURI,
            let iat = (claims["iat"] as? NSNumber)?.int64Value, let exp = (claims["exp"] as? NSNumber)?.int64Value,
            abs(iat - now) <= 300, exp > now, exp - iat <= 3600
        else { return nil }
        return claims
    }

    // MARK: - Cloud KMS

    private func kms(_ request: Request, body: [UInt8]) async throws -> Response {
        state.withLock { $0.kmsCalls += 1 }
        if let fault = kmsFaults.next() {
            switch fault {
            case .status(let status):
                return googleError(status, status == 429 ? "RESOURCE_EXHAUSTED" : "UNAVAILABLE", "injected fault")
            case .delay(let duration):
                try await Task.sleep(for: duration)
            }
        }
        let token = ContractServer.bearer(request)
        let (tokenValid, enabled, granted) = state.withLock { state in
            let expiry = token.flatMap { state.tokens[$0] }
            return (
                !state.refuseAllTokens && expiry.map { ContinuousClock.now < $0 } == true, state.keyEnabled,
                state.granted
            )
        }
        guard tokenValid else {
            return googleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        }
        let path = request.uri.path
        guard let colon = path.lastIndex(of: ":"), path.hasPrefix("/v1/") else {
            return googleError(404, "NOT_FOUND", "Not found.")
        }
        let name = String(path[path.index(path.startIndex, offsetBy: 4)..<colon])
        let method = String(path[path.index(after: colon)...])
        guard name == Self.resource else { return googleError(404, "NOT_FOUND", "CryptoKey not found.") }
        guard granted else {
            return googleError(403, "PERMISSION_DENIED", "Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied")
        }
        guard enabled else {
            return googleError(
                400,
                "FAILED_PRECONDITION",
                "\(name)/cryptoKeyVersions/1 is not enabled, current state is: DISABLED."
            )
        }
        guard let fields = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            return googleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        }
        let aad = (fields["additionalAuthenticatedData"] as? String).flatMap { try? Base64.decode($0) } ?? []
        switch method {
        case "encrypt":
            guard let text = fields["plaintext"] as? String, let plaintext = try? Base64.decode(text) else {
                return googleError(400, "INVALID_ARGUMENT", "plaintext is required.")
            }
            let blob = try EnvelopeBlob.seal(plaintext, with: keyMaterial, encryptedKeys: [1], associatedData: aad)
            return ContractServer.json(
                200,
                [
                    "name": name + "/cryptoKeyVersions/1", "ciphertext": blob.base64EncodedString(),
                    "protectionLevel": "SOFTWARE",
                ]
            )
        case "decrypt":
            guard let text = fields["ciphertext"] as? String, let blob = try? EnvelopeBlob(base64Encoded: text),
                blob.encryptedKeys == [1], let plaintext = try? blob.open(with: keyMaterial, associatedData: aad)
            else { return googleError(400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.") }
            return ContractServer.json(
                200,
                ["plaintext": Base64.encode(plaintext), "usedPrimary": true, "protectionLevel": "SOFTWARE"]
            )
        default:
            return googleError(404, "NOT_FOUND", "Method not found.")
        }
    }

    private func googleError(_ code: Int, _ status: String, _ message: String) -> Response {
        ContractServer.json(code, ["error": ["code": code, "message": message, "status": status]])
    }
}

/// Base64url with or without padding.
func base64URLDecode(_ text: String) throws -> [UInt8] {
    var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
    return try Base64.decode(standard)
}

func base64URLEncode(_ bytes: [UInt8]) -> String {
    Base64.encode(bytes).replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
