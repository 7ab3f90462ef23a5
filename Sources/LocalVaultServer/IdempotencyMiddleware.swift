import EnvelopeCrypto
import Hummingbird
import LocalVault
import Logging
import NIOCore
import Synchronization

/// `Idempotency-Key` on POST: the first response (anything below 500) to a key is stored by the
/// engine for 24 hours and replayed to retries with the same key, method, path and body, which
/// therefore create nothing new. The same key with another request is 422; a retry while the
/// first request still runs is 409. Keys are scoped to the API key, so callers never collide.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = VaultRequestContext

    static let keyField = HTTPFieldName("Idempotency-Key")!
    static let replayedField = HTTPFieldName("Idempotent-Replayed")!
    static let maxKeyLength = 255

    let vault: LocalVault

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard request.method == .post, let key = request.headers[Self.keyField] else {
            return try await next(request, context)
        }
        guard !key.isEmpty, key.count <= Self.maxKeyLength else {
            throw APIError.badRequest("the Idempotency-Key header must be 1 to \(Self.maxKeyLength) characters")
        }
        let scope = try context.requireAPIKey().id
        // The body was collected by BodyLimitMiddleware: reading it again costs nothing.
        let body = try await request.body.collect(upTo: .max)
        let hash = Self.requestHash(method: request.method.rawValue, path: request.uri.path, body: body)

        // The key endpoints store nothing, so their records need not survive a restart.
        let durable = !request.uri.path.hasPrefix("/vault/v1/keys/")
        switch try await vault.claimIdempotencyKey(scope: scope, key: key, requestHash: hash, durable: durable) {
        case .replay(let status, let storedBody):
            var response = JSONResponse.make(
                bytes: ByteBuffer(bytes: storedBody),
                status: HTTPResponse.Status(code: status)
            )
            response.headers[Self.replayedField] = "true"
            return response
        case .inProgress:
            throw APIError(
                .conflict,
                code: "idempotency_key_in_use",
                message: "a request with this Idempotency-Key is still in progress; retry later"
            )
        case .mismatch:
            throw APIError(
                .unprocessableContent,
                code: "idempotency_key_reused",
                message: "this Idempotency-Key was already used with a different request"
            )
        case .claimed:
            return try await runClaimed(request, context: context, scope: scope, key: key, durable: durable, next: next)
        }
    }

    private func runClaimed(
        _ request: Request,
        context: Context,
        scope: String,
        key: String,
        durable: Bool,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Stored as the client sees it, so that a replay is byte-identical.
            response = RequestLoggingMiddleware.response(for: error, logger: context.logger)
        }
        let vault = vault
        // Unstructured tasks do not inherit cancellation: a client that hung up must not leave
        // the key claimed (409) for a day.
        do {
            let body = try await Self.collect(response.body)
            response.body = ResponseBody(byteBuffer: body)
            let status = response.status.code
            if status < 500 {
                try await Task {
                    try await vault.completeIdempotencyKey(
                        scope: scope,
                        key: key,
                        status: status,
                        body: Array(buffer: body),
                        durable: durable
                    )
                }.value
                return response
            }
        } catch {
            try? await Task { try await vault.releaseIdempotencyKey(scope: scope, key: key, durable: durable) }.value
            throw error
        }
        // A server fault is not an answer worth replaying: the retry runs again.
        try await Task { try await vault.releaseIdempotencyKey(scope: scope, key: key, durable: durable) }.value
        return response
    }

    /// SHA-256 over the method, the raw path and the body, length-prefixed so that no two
    /// requests share an encoding.
    static func requestHash(method: String, path: String, body: ByteBuffer) -> String {
        var bytes: [UInt8] = []
        for part in [Array(method.utf8), Array(path.utf8), Array(buffer: body)] {
            bytes += withUnsafeBytes(of: UInt64(part.count).bigEndian, Array.init)
            bytes += part
        }
        return SHA256.hexDigest(bytes)
    }

    private static func collect(_ body: ResponseBody) async throws -> ByteBuffer {
        let collector = Collector()
        try await body.write(collector)
        return collector.buffer.withLock { $0 }
    }

    /// A body writer that keeps what it is given.
    private final class Collector: ResponseBodyWriter, Sendable {
        let buffer = Mutex(ByteBuffer())

        func write(_ buffer: ByteBuffer) async throws {
            _ = self.buffer.withLock { $0.writeImmutableBuffer(buffer) }
        }

        func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}
