import Hummingbird

/// Accepts requests that carry `Authorization: Bearer <an accepted key>` and records the key in
/// the context. Every failure (no header, another scheme, an unknown key) gets the same 401 body,
/// so that a caller learns nothing about which keys exist.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = VaultRequestContext

    /// Replaced as a whole when `vault serve` reloads its configuration (SIGHUP).
    let keys: ReloadableAPIKeys

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.apiKey = try Self.authenticate(authorization: request.headers[.authorization], keys: keys.current)
        return try await next(request, context)
    }

    /// The key named by an `Authorization` header value.
    /// - Throws: ``APIError/unauthorized`` for anything but `Bearer` and an accepted key.
    static func authenticate(authorization: String?, keys: APIKeyRing) throws(APIError) -> APIKey {
        guard var authorization else { throw .unauthorized }
        // Over the UTF-8 bytes: the Character view (grapheme breaking) showed in the profile.
        let key = authorization.withUTF8 { header -> APIKey? in
            guard let space = header.firstIndex(of: UInt8(ascii: " ")) else { return nil }
            guard space == 6, Self.isBearer(UnsafeBufferPointer(rebasing: header[..<space])) else { return nil }
            var start = space
            while start < header.count, header[start] == UInt8(ascii: " ") { start += 1 }
            let token = UnsafeBufferPointer(rebasing: header[start...])
            guard !token.isEmpty, token.allSatisfy(Self.isPrintableASCII) else { return nil }
            return keys.key(forSecretUTF8: UnsafeRawBufferPointer(token))
        }
        guard let key else { throw .unauthorized }
        return key
    }

    /// `Bearer`, in any case.
    private static func isBearer(_ scheme: UnsafeBufferPointer<UInt8>) -> Bool {
        zip(scheme, "bearer".utf8).allSatisfy { $0 | 0x20 == $1 } && scheme.count == 6
    }

    /// Keys are printable ASCII without spaces (checked when configured): a token with any other
    /// byte names no key, and is refused without hashing it.
    private static func isPrintableASCII(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F
    }
}
