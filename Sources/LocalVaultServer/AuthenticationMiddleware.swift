import Hummingbird

/// Accepts requests that carry `Authorization: Bearer <an accepted key>` and records the key in
/// the context. Every failure (no header, another scheme, an unknown key) gets the same 401 body,
/// so that a caller learns nothing about which keys exist.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = VaultRequestContext

    let keys: APIKeyRing

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.apiKey = try Self.authenticate(authorization: request.headers[.authorization], keys: keys)
        return try await next(request, context)
    }

    /// The key named by an `Authorization` header value.
    /// - Throws: ``APIError/unauthorized`` for anything but `Bearer` and an accepted key.
    static func authenticate(authorization: String?, keys: APIKeyRing) throws(APIError) -> APIKey {
        guard let authorization, let space = authorization.firstIndex(of: " ") else { throw .unauthorized }
        let scheme = authorization[..<space]
        let token = authorization[space...].drop { $0 == " " }
        guard scheme.lowercased() == "bearer", !token.isEmpty, !token.contains(where: \.isWhitespace),
            let key = keys.key(forSecret: token)
        else { throw .unauthorized }
        return key
    }
}
