import LocalVault
import Synchronization
import VaultHTTP

extension ProviderRequest {
    /// Sends a request that carries a bearer token from `tokens`. A 401 (the token was revoked or
    /// expired early) costs one fresh token and one more try; a second 401 is a refusal (403).
    ///
    /// - Parameters:
    ///   - make: the request, given the token (an `Authorization: Bearer` header is added).
    ///   - errorCode: the provider's short error code in an error answer.
    ///   - refusalCodes: the error codes that mean the key may not be used (403).
    ///   - isForeign: whether a final error (status, code) means the ciphertext does not open under
    ///     the key with this associated data: the vault's 400 for foreign keys instead of a 500.
    func send(
        bearer tokens: AccessTokenCache,
        _ make: () -> TransportRequest,
        errorCode: @escaping @Sendable (TransportResponse) -> String?,
        refusalCodes: Set<String> = [],
        isForeign: (Int, String?) -> Bool = { _, _ in false }
    ) async throws -> TransportResponse {
        var token = try await tokens.token()
        var refreshed = false
        while true {
            let failure = FailureProbe()
            var request = make()
            request.headers.append(("Authorization", "Bearer " + token.value))
            do {
                return try await send(
                    request,
                    errorCode: { response in
                        let code = errorCode(response)
                        failure.record(status: response.status, code: code.map(ProviderRequest.sanitized))
                        return code
                    },
                    refusalCodes: refusalCodes
                )
            } catch let error as LocalVaultError {
                guard let last = failure.last else { throw error }
                let (status, code) = last
                if status == 401, !refreshed {
                    refreshed = true
                    token = try await tokens.token(replacing: token)
                    continue
                }
                if isForeign(status, code) { throw LocalVaultError.foreignKeys }
                throw error
            }
        }
    }
}

/// The status and error code of the last error answer of one ``ProviderRequest/send(_:errorCode:refusalCodes:)``.
private final class FailureProbe: Sendable {
    private let state = Mutex<(Int, String?)?>(nil)

    func record(status: Int, code: String?) {
        state.withLock { $0 = (status, code) }
    }

    var last: (Int, String?)? { state.withLock { $0 } }
}
