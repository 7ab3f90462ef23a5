import EnvelopeCrypto
import Foundation
import Hummingbird
import Synchronization

/// A contract double of Entra ID's token endpoint (client-credentials grant) and Key Vault's
/// `wrapkey`/`unwrapkey` (learn.microsoft.com/rest/api/keyvault/keys/wrap-key, api-version 7.4),
/// in process.
///
/// Token endpoint (`POST /{tenant}/oauth2/v2.0/token`): `grant_type=client_credentials`, the
/// client id and secret, the scope `https://vault.azure.net/.default`; a wrong secret is
/// `401 {"error":"invalid_client"}`. Key Vault (`POST /keys/{name}/{version}/wrapkey|unwrapkey
/// ?api-version=7.4`): bearer tokens it issued and that have not expired or been revoked (else 401
/// with a `WWW-Authenticate` challenge), the one configured key version (else 404 KeyNotFound), a
/// disabled key 403 Forbidden/KeyDisabled, real RSA-OAEP-256 under an RSA key generated for the
/// test; a ciphertext that does not decrypt is 400 BadParameter.
final class AzureKeyVaultDouble: Sendable {
    static let tenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    static let clientID = "6f1c0c2e-1111-4a5b-9c3d-0123456789ab"
    static let clientSecret = "test~Secret.with+special/chars=&%"
    static let keyName = "org-abc"
    static let firstVersion = "4f1b2c3d4e5f60718293a4b5c6d7e8f9"

    struct State {
        var baseURL = ""
        var tokens: [String: ContinuousClock.Instant] = [:]
        var tokenGrants = 0
        var keyCalls = 0
        var expiresIn = 3599
        var keyEnabled = true
        var refuseAllTokens = false
        /// The RSA ciphertexts `wrapkey` returned, for tests that look at what travels.
        var lastWrapValue = ""
        /// The key's versions (each an RSA key of its own) and the newest.
        var versions: [String: RSAPrivateKey] = [:]
        var currentVersion = AzureKeyVaultDouble.firstVersion
    }

    let tokenFaults = FaultQueue()
    let keyFaults = FaultQueue()
    let state = Mutex(State())

    init() throws {
        let first = try RSAPrivateKey.generate()
        state.withLock { $0.versions[Self.firstVersion] = first }
    }

    var baseURL: String { state.withLock { $0.baseURL } }
    /// The URL of the newest key version.
    var keyURL: String { state.withLock { "\($0.baseURL)/keys/\(Self.keyName)/\($0.currentVersion)" } }

    func rsaKey(version: String = AzureKeyVaultDouble.firstVersion) -> RSAPrivateKey? {
        state.withLock { $0.versions[version] }
    }

    /// Adds a key version (`az keyvault key rotate`) and returns it.
    func rotate() throws -> String {
        let key = try RSAPrivateKey.generate()
        let version = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        state.withLock { state in
            state.versions[version] = key
            state.currentVersion = version
        }
        return version
    }
    var tokenGrants: Int { state.withLock { $0.tokenGrants } }
    var keyCalls: Int { state.withLock { $0.keyCalls } }

    func revokeAllTokens() {
        state.withLock { $0.tokens.removeAll() }
    }

    func run(_ body: @Sendable (AzureKeyVaultDouble) async throws -> Void) async throws {
        let router = Router()
        router.post("/:tenant/oauth2/v2.0/token") { request, context in
            try await self.token(
                tenant: context.parameters.get("tenant") ?? "",
                ContractServer.form(ContractServer.body(of: request, context: context))
            )
        }
        router.post("/keys/:name/:version/:operation") { request, context in
            try await self.key(request, context: context, body: ContractServer.body(of: request, context: context))
        }
        try await ContractServer.run(router) { baseURL in
            self.state.withLock { $0.baseURL = baseURL }
            try await body(self)
        }
    }

    private func token(tenant: String, _ form: [String: String]) async throws -> Response {
        if let fault = tokenFaults.next() {
            switch fault {
            case .status(let status):
                return ContractServer.json(
                    status,
                    ["error": status == 429 ? "temporarily_unavailable" : "server_error"]
                )
            case .delay(let duration):
                try await Task.sleep(for: duration)
            }
        }
        guard tenant == Self.tenantID else {
            return ContractServer.json(
                400,
                ["error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."]
            )
        }
        guard form["grant_type"] == "client_credentials" else {
            return ContractServer.json(400, ["error": "unsupported_grant_type"])
        }
        guard form["scope"] == "https://vault.azure.net/.default" else {
            return ContractServer.json(400, ["error": "invalid_scope"])
        }
        guard form["client_id"] == Self.clientID, form["client_secret"] == Self.clientSecret else {
            return ContractServer.json(
                401,
                ["error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."]
            )
        }
        let token = ContractServer.newToken(prefix: "eyJ0eXAi.test-")
        let expiresIn = state.withLock { state in
            state.tokenGrants += 1
            state.tokens[token] = .now + .seconds(state.expiresIn)
            return state.expiresIn
        }
        return ContractServer.json(
            200,
            ["token_type": "Bearer", "expires_in": expiresIn, "ext_expires_in": expiresIn, "access_token": token]
        )
    }

    private func key(_ request: Request, context: BasicRequestContext, body: [UInt8]) async throws -> Response {
        state.withLock { $0.keyCalls += 1 }
        if let fault = keyFaults.next() {
            switch fault {
            case .status(let status):
                return azureError(status, status == 429 ? "Throttled" : "ServiceUnavailable", nil, "injected fault")
            case .delay(let duration):
                try await Task.sleep(for: duration)
            }
        }
        let token = ContractServer.bearer(request)
        let (tokenValid, enabled) = state.withLock { state in
            let expiry = token.flatMap { state.tokens[$0] }
            return (!state.refuseAllTokens && expiry.map { ContinuousClock.now < $0 } == true, state.keyEnabled)
        }
        guard tokenValid else {
            let challenge = "Bearer authorization=\"\(baseURL)/\(Self.tenantID)\", resource=\"https://vault.azure.net\""
            return azureError(
                401,
                "Unauthorized",
                nil,
                "AKV10000: Request is missing a Bearer or PoP token.",
                headers: [.wwwAuthenticate: challenge]
            )
        }
        guard request.uri.queryParameters["api-version"] == "7.4" else {
            return azureError(400, "BadParameter", nil, "The api-version is missing or not supported.")
        }
        let name = context.parameters.get("name") ?? ""
        let version = context.parameters.get("version") ?? ""
        guard name == Self.keyName, let rsaKey = state.withLock({ $0.versions[version] }) else {
            return azureError(
                404,
                "KeyNotFound",
                nil,
                "A key with (name/id) \(name)/\(version) was not found in this key vault."
            )
        }
        let operation = context.parameters.get("operation") ?? ""
        guard enabled else {
            return azureError(
                403,
                "Forbidden",
                "KeyDisabled",
                "Operation \(operation) is not allowed on a disabled key."
            )
        }
        guard let fields = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            fields["alg"] as? String == "RSA-OAEP-256", let text = fields["value"] as? String,
            let value = try? base64URLDecode(text)
        else { return azureError(400, "BadParameter", nil, "Property 'value' or 'alg' is invalid.") }
        let kid = "\(baseURL)/keys/\(name)/\(version)"
        switch operation {
        case "wrapkey":
            let wrapped = base64URLEncode(try rsaKey.publicKey.encryptOAEP256(value))
            state.withLock { $0.lastWrapValue = wrapped }
            return ContractServer.json(200, ["kid": kid, "value": wrapped])
        case "unwrapkey":
            guard let key = try? rsaKey.decryptOAEP256(value) else {
                return azureError(400, "BadParameter", nil, "Unwrap failed: the ciphertext is invalid.")
            }
            return ContractServer.json(200, ["kid": kid, "value": base64URLEncode(key)])
        default:
            return azureError(400, "BadParameter", nil, "Unknown operation.")
        }
    }

    private func azureError(
        _ status: Int,
        _ code: String,
        _ inner: String?,
        _ message: String,
        headers: HTTPFields = [:]
    ) -> Response {
        var error: [String: Any] = ["code": code, "message": message]
        if let inner { error["innererror"] = ["code": inner] }
        return ContractServer.json(status, ["error": error], headers: headers)
    }
}
