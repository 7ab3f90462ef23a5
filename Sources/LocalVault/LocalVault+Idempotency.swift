import EnvelopeCrypto
import Foundation
import VaultAPI

/// `Idempotency-Key` bookkeeping for the REST server: the first response to a POST is stored
/// (sealed under the root key, since a data-key response holds a data key) and replayed to
/// retries with the same key and body for 24 hours (the purge deletes older records). Records of
/// requests that change the store are durable (in the store, so a retry after a crash still
/// creates nothing new); those of requests that store nothing (`durable: false`, the key
/// endpoints) are kept in memory.
extension LocalVault {
    /// How long a stored response is replayed.
    public static let idempotencyWindow: TimeInterval = 24 * 60 * 60
    /// How long an unfinished claim holds its key. A request that died (a crash, a kill) leaves
    /// its claim unfinished; after this lease a retry may run it again.
    public static let idempotencyLease: TimeInterval = 60

    /// The outcome of claiming an idempotency key.
    public enum IdempotencyClaim: Sendable, Equatable {
        /// First use: run the request, then call ``LocalVault/completeIdempotencyKey(scope:key:status:body:durable:)``.
        case claimed
        /// A retry: answer with the stored response.
        case replay(status: Int, body: [UInt8])
        /// The first request with this key has not finished yet.
        case inProgress
        /// The key was used with a different request.
        case mismatch
    }

    /// Claims `key` for a request whose method, path and body hash to `requestHash`.
    /// - Parameters:
    ///   - scope: whose keys these are (the API key id): keys never collide across callers.
    ///   - key: the request's `Idempotency-Key`.
    ///   - requestHash: the hash of the request's method, path and body.
    ///   - durable: whether the claim is kept in the store (true) or only in memory.
    ///   - now: the time of the request.
    /// - Throws: ``LocalVaultError`` (400) for a key holding a control character.
    public func claimIdempotencyKey(
        scope: String,
        key: String,
        requestHash: String,
        durable: Bool = true,
        now: Date = Date()
    ) async throws -> IdempotencyClaim {
        guard !ControlCharacters.occur(in: key) else {
            throw LocalVaultError(.invalidRequest, "an idempotency key must not contain \(ControlCharacters.rule)")
        }
        guard durable else {
            let existing = volatileIdempotency.claim(
                Self.volatileID(scope: scope, key: key),
                requestHash: requestHash,
                now: now,
                window: Self.idempotencyWindow,
                lease: Self.idempotencyLease
            )
            guard let existing else { return .claimed }
            return try outcome(
                storedHash: existing.requestHash,
                requestHash: requestHash,
                status: existing.status,
                sealed: existing.sealedBody,
                scope: scope,
                key: key,
                durable: false
            )
        }
        let stored = try await storage.claimIdempotencyKey(
            scope: scope,
            key: key,
            requestHash: requestHash,
            now: now.storedMilliseconds,
            leaseExpiredBefore: now.addingTimeInterval(-Self.idempotencyLease).storedMilliseconds
        )
        guard let stored else { return .claimed }
        return try outcome(
            storedHash: stored.requestHash,
            requestHash: requestHash,
            status: stored.status,
            sealed: stored.sealedBody,
            scope: scope,
            key: key,
            durable: true
        )
    }

    private func outcome(
        storedHash: String,
        requestHash: String,
        status: Int?,
        sealed: [UInt8]?,
        scope: String,
        key: String,
        durable: Bool
    ) throws -> IdempotencyClaim {
        guard storedHash == requestHash else { return .mismatch }
        guard let status, let sealed else { return .inProgress }
        guard let body = try? openStoredResponse(sealed, scope: scope, key: key, durable: durable) else {
            throw LocalVaultError(.internalError, "a stored idempotent response does not authenticate")
        }
        return .replay(status: status, body: body)
    }

    private static func volatileID(scope: String, key: String) -> String { "\(scope)\u{0}\(key)" }

    /// Stores the response of a claimed request for replay.
    public func completeIdempotencyKey(
        scope: String,
        key: String,
        status: Int,
        body: [UInt8],
        durable: Bool = true
    ) async throws {
        let sealed = try sealStoredResponse(body, scope: scope, key: key, durable: durable)
        guard durable else {
            volatileIdempotency.complete(Self.volatileID(scope: scope, key: key), status: status, sealedBody: sealed)
            return
        }
        try await storage.completeIdempotencyKey(scope: scope, key: key, status: status, sealedBody: sealed)
    }

    /// Forgets a claim whose request produced no response worth replaying (a server error), so
    /// that a retry runs again.
    public func releaseIdempotencyKey(scope: String, key: String, durable: Bool = true) async throws {
        guard durable else {
            volatileIdempotency.release(Self.volatileID(scope: scope, key: key))
            return
        }
        try await storage.releaseIdempotencyKey(scope: scope, key: key)
    }

    static func responseAssociatedData(scope: String, key: String) -> [UInt8] {
        Array("lvs.idempotency\0\(scope)\0\(key)".utf8)
    }

    /// Durable records get a data key of their own, wrapped under the root key; volatile ones,
    /// which die with the process, are sealed under its record key (no key generated or wrapped
    /// per request).
    private func sealStoredResponse(_ body: [UInt8], scope: String, key: String, durable: Bool) throws -> [UInt8] {
        let associatedData = Self.responseAssociatedData(scope: scope, key: key)
        guard durable else { return try volatileIdempotency.seal(body, associatedData: associatedData) }
        return try Self.sealDurableResponse(body, under: rootKey, associatedData: associatedData)
    }

    private func openStoredResponse(_ sealed: [UInt8], scope: String, key: String, durable: Bool) throws -> [UInt8] {
        let associatedData = Self.responseAssociatedData(scope: scope, key: key)
        guard durable else { return try volatileIdempotency.open(sealed, associatedData: associatedData) }
        return try Self.openDurableResponse(sealed, under: rootKey, associatedData: associatedData)
    }

    /// Seals a durable record's body under a data key of its own, wrapped under `rootKey` (a
    /// root-key rotation re-seals them with the new key).
    static func sealDurableResponse(_ body: [UInt8], under rootKey: DataKey, associatedData: [UInt8]) throws -> [UInt8]
    {
        let dataKey = try DataKey.generate()
        let wrapped = try rootKey.wrap(dataKey, associatedData: associatedData)
        return try EnvelopeBlob.seal(body, with: dataKey, encryptedKeys: wrapped, associatedData: associatedData).bytes
    }

    static func openDurableResponse(
        _ sealed: [UInt8],
        under rootKey: DataKey,
        associatedData: [UInt8]
    ) throws -> [UInt8] {
        let blob = try EnvelopeBlob(parsing: sealed, layout: .a)
        let dataKey = try rootKey.unwrap(blob.encryptedKeys[...], associatedData: associatedData)
        return try blob.open(with: dataKey, associatedData: associatedData)
    }
}
