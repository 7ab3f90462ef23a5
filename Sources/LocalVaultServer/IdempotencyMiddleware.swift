import EnvelopeCrypto
import Foundation
import Hummingbird
import LocalVault
import Logging
import NIOCore
import Synchronization
import VaultAPI

/// `Idempotency-Key` on POST: the first response (anything below 500) to a key is stored by the
/// engine for 24 hours and replayed to retries with the same key, method, path and body, which
/// therefore create nothing new. The same key with another request is 422; a retry while the
/// first request still runs is 409. Keys are scoped to the API key, so callers never collide.
/// `keys/decrypt` is answered afresh every time: it changes nothing and its answer follows from
/// its body, so a stored copy would only keep a plaintext data key around for a day.
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
        guard !ControlCharacters.occur(in: key) else {
            throw APIError.badRequest("the Idempotency-Key header must not contain \(ControlCharacters.rule)")
        }
        guard let durable = Self.recordIsDurable(path: request.uri.path) else {
            return try await next(request, context)
        }
        let scope = try context.requireAPIKey().id
        let hash = Self.requestHash(method: request.method.rawValue, path: request.uri.path, body: context.requestBody)
        switch try await vault.claimIdempotencyKey(scope: scope, key: key, requestHash: hash, durable: durable) {
        case .replay(let status, let storedBody):
            try await recordReplayedDataKey(path: request.uri.path, status: status, body: storedBody, context: context)
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
        do {
            let body = try await Self.collect(response.body)
            response.body = ResponseBody(byteBuffer: body)
            let status = response.status.code
            if status < 500 {
                try await finish(durable: durable) { vault, durable in
                    try await vault.completeIdempotencyKey(
                        scope: scope,
                        key: key,
                        status: status,
                        body: Array(buffer: body),
                        durable: durable
                    )
                }
                return response
            }
        } catch {
            try? await finish(durable: durable) {
                try await $0.releaseIdempotencyKey(scope: scope, key: key, durable: $1)
            }
            throw error
        }
        // A server fault is not an answer worth replaying: the retry runs again.
        try await finish(durable: durable) { try await $0.releaseIdempotencyKey(scope: scope, key: key, durable: $1) }
        return response
    }

    /// A replayed `keys/data-key` or `keys/rekey` answer hands its data key out again: its event
    /// (`vault.dek.read`, `vault.dek.rekeyed`) is recorded before the replay is sent, as the
    /// first answer's was, so no access goes unrecorded.
    private func recordReplayedDataKey(path: String, status: Int, body: [UInt8], context: Context) async throws {
        guard status == 200, vault.recordsEvents else { return }
        let rekeyed: Bool
        switch path {
        case "/vault/v1/keys/data-key": rekeyed = false
        case "/vault/v1/keys/rekey": rekeyed = true
        default: return
        }
        // Only the id and context: the stored data key is not decoded.
        guard let answer = try? JSONDecoder().decode(IssuedKeyReference.self, from: Data(body)) else {
            throw LocalVaultError(.internalError, "a stored data-key answer does not parse")
        }
        try await vault.recordDataKeyAccess(
            id: answer.id,
            context: answer.context,
            rekeyed: rekeyed,
            caller: context.caller()
        )
    }

    /// What a data-key answer says about its key, for its replay's event.
    private struct IssuedKeyReference: Decodable {
        let id: String
        let context: KeyContext
    }

    /// How the answer to a POST to `path` is kept: `nil` (not at all) for `keys/decrypt`, `false`
    /// (in memory) for the other key endpoints, which store nothing and so need no record that
    /// survives a restart, and `true` (in SQLite) for the rest.
    static func recordIsDurable(path: String) -> Bool? {
        if path == "/vault/v1/keys/decrypt" { return nil }
        return !path.hasPrefix("/vault/v1/keys/")
    }

    /// Completes or releases a claim even if the request was cancelled. Durable records go
    /// through an unstructured task, which does not inherit cancellation: a client that hung up
    /// must not leave the key claimed (409) for a day. Volatile records are a lock and a
    /// dictionary write that no cancellation can interrupt, so they skip the task and its two
    /// thread hops (on the key endpoints' hot path).
    private func finish(
        durable: Bool,
        _ operation: @escaping @Sendable (LocalVault, Bool) async throws -> Void
    ) async throws {
        guard durable else { return try await operation(vault, durable) }
        let vault = vault
        try await Task { try await operation(vault, durable) }.value
    }

    /// SHA-256 over the method, the raw path and the body, length-prefixed so that no two
    /// requests share an encoding.
    static func requestHash(method: String, path: String, body: ByteBuffer) -> String {
        var bytes = ByteBufferAllocator().buffer(
            capacity: 24 + method.utf8.count + path.utf8.count + body.readableBytes
        )
        for part in [method, path] {
            bytes.writeInteger(UInt64(part.utf8.count), endianness: .big)
            bytes.writeString(part)
        }
        bytes.writeInteger(UInt64(body.readableBytes), endianness: .big)
        bytes.writeImmutableBuffer(body)
        return bytes.withUnsafeReadableBytes { SHA256.hexDigest($0) }
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
