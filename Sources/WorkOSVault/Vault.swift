import EnvelopeCrypto
import Foundation
import Logging
import VaultAPI
import VaultHTTP

#if EmbeddedStore
import LocalVault
#endif

/// The WorkOS Vault client: client-side encryption for ciphertext you store in your own database,
/// plus Vault's object and key APIs.
///
/// ```swift
/// let vault = try Vault()  // WORKOS_API_KEY → the WorkOS API; no WorkOS variables → the embedded store
/// let blob = try await vault.encrypt("4242 4242 4242 4242", context: ["organization_id": "org_123"])
/// let card = try await vault.decrypt(blob)
/// ```
///
/// Blobs are written in layout A (what the Python, Node, Ruby, Kotlin, PHP and .NET SDKs read) or
/// B on request; decryption reads A, B and the legacy A', detecting which.
public final class Vault: Sendable {
    /// This library's version (the `vault` CLI's `--version`, and the client's User-Agent).
    public static let version = "0.1"

    /// Where data keys come from.
    public let resolver: any KEKResolver
    /// Where objects live.
    public let objects: any VaultObjectService
    /// The layout ``encrypt(_:context:associatedData:layout:)`` writes when none is given.
    public let defaultLayout: BlobLayout
    let logger: Logger?

    /// A client for `configuration` (by default, read from the environment).
    /// - Parameters:
    ///   - configuration: the backend and caches; `nil` reads them from the environment
    ///     (``VaultConfiguration/fromEnvironment(_:)``).
    ///   - logger: where to log request ids, statuses and durations; never secrets. None by default.
    /// - Throws: ``VaultError`` for a bad configuration or an embedded store that cannot be opened.
    public convenience init(configuration: VaultConfiguration? = nil, logger: Logger? = nil) throws {
        let configuration = try configuration ?? .fromEnvironment()
        let resolver: any KEKResolver
        let objects: any VaultObjectService
        switch configuration.backend {
        case .remote(let remote):
            let client = VaultRESTClient(configuration: remote)
            (resolver, objects) = (RemoteKEKResolver(client: client), client)
        #if EmbeddedStore
        case .embedded(let dataDirectory):
            let local: LocalVault
            do {
                local = try LocalVault(
                    configuration: LocalVaultConfiguration(
                        dataDirectory: dataDirectory,
                        logger: logger,
                        purgeDelay: configuration.embeddedPurgeDelay
                    )
                )
            } catch let error as LocalVaultError {
                // A root key that is not the store's is a failure of the service (the store), not
                // of the caller's configuration: scripts see it as the service failing (exit 5).
                throw VaultError(error.rule == .rootKey ? .serverError : .configuration, error.message)
            }
            (resolver, objects) = (EmbeddedKEKResolver(vault: local), EmbeddedObjectService(vault: local))
        #endif
        }
        let cached: any KEKResolver =
            configuration.encryptCache == nil && configuration.decryptCache == nil
            ? resolver
            : CachingKEKResolver(
                wrapping: resolver,
                encryptCache: configuration.encryptCache,
                decryptCache: configuration.decryptCache
            )
        self.init(resolver: cached, objects: objects, logger: logger)
    }

    /// A client over explicit parts (a caching resolver, a test double, a shared engine).
    public init(
        resolver: any KEKResolver,
        objects: any VaultObjectService,
        defaultLayout: BlobLayout = .a,
        logger: Logger? = nil
    ) {
        self.resolver = resolver
        self.objects = objects
        self.defaultLayout = defaultLayout
        self.logger = logger
    }

    /// The cache counters, when the resolver is a ``CachingKEKResolver``.
    public var cacheStatistics: CacheStatistics? { (resolver as? CachingKEKResolver)?.statistics }

    // MARK: Client-side encryption

    /// Encrypts text under a fresh data key for `context` and returns the blob as base64.
    /// - Parameters:
    ///   - plaintext: UTF-8 text; the empty string is valid.
    ///   - context: selects the KEKs; checked against the Vault rules before any request.
    ///   - associatedData: authenticated, not encrypted; must be given again to decrypt.
    ///   - layout: `BlobLayout.a` (default) or `BlobLayout.b`.
    /// - Throws: ``VaultError``.
    public func encrypt(
        _ plaintext: String,
        context: KeyContext,
        associatedData: String? = nil,
        layout: BlobLayout? = nil
    ) async throws -> String {
        let dataKey = try await dataKeyForEncryption(context: context, plaintextCount: plaintext.utf8.count)
        return try crypto {
            try EnvelopeBlob.sealedBase64(
                plaintext,
                with: dataKey.key,
                encryptedKeys: dataKey.encryptedKeys,
                associatedData: associatedData,
                layout: layout ?? defaultLayout
            )
        }
    }

    /// Decrypts a base64 blob written by this library or any official WorkOS SDK.
    /// - Parameters:
    ///   - blob: the blob in standard base64 with padding.
    ///   - associatedData: the associated data given to encrypt, if any.
    ///   - layout: force a layout; `nil` detects it.
    /// - Throws: ``VaultError`` (``VaultError/Code-swift.struct/decryptionFailed`` for a wrong key,
    ///   wrong associated data or tampered blob).
    public func decrypt(_ blob: String, associatedData: String? = nil, layout: BlobLayout? = nil) async throws -> String
    {
        let parsed = try crypto { try EnvelopeBlob(base64Encoded: blob, layout: layout) }
        let bytes = try await open(parsed, associatedData: associatedData.map { Array($0.utf8) })
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw VaultError(.decryptionFailed, "the decrypted data is not UTF-8 text; use decrypt(bytes:)")
        }
        return text
    }

    /// Encrypts bytes and returns the blob itself (no base64), for callers who store binary.
    public func encrypt(
        bytes plaintext: [UInt8],
        context: KeyContext,
        associatedData: [UInt8]? = nil,
        layout: BlobLayout? = nil
    ) async throws -> EnvelopeBlob {
        let dataKey = try await dataKeyForEncryption(context: context, plaintextCount: plaintext.count)
        return try crypto {
            try EnvelopeBlob.seal(
                plaintext,
                with: dataKey.key,
                encryptedKeys: dataKey.encryptedKeys,
                associatedData: associatedData,
                layout: layout ?? defaultLayout
            )
        }
    }

    /// Decrypts a binary blob.
    public func decrypt(
        bytes blob: [UInt8],
        associatedData: [UInt8]? = nil,
        layout: BlobLayout? = nil
    ) async throws
        -> [UInt8]
    {
        try await open(crypto { try EnvelopeBlob(parsing: blob, layout: layout) }, associatedData: associatedData)
    }

    /// Moves a blob to another key context by re-wrapping its data key: the ciphertext is not
    /// decrypted or re-encrypted, and the blob keeps its layout.
    public func rekey(_ blob: String, to context: KeyContext, layout: BlobLayout? = nil) async throws -> String {
        try validate(context)
        let parsed = try crypto { try EnvelopeBlob(base64Encoded: blob, layout: layout) }
        let rekeyed = try await resolver.rekey(encryptedKeys: parsed.encryptedKeys, to: context, logger: logger)
        return try crypto { try parsed.replacingEncryptedKeys(rekeyed.encryptedKeys) }.base64EncodedString()
    }

    private func dataKeyForEncryption(context: KeyContext, plaintextCount: Int) async throws -> ResolvedDataKey {
        try validate(context)
        return try await resolver.dataKeyForEncryption(for: context, plaintextCount: plaintextCount, logger: logger)
    }

    private func open(_ blob: EnvelopeBlob, associatedData: [UInt8]?) async throws -> [UInt8] {
        let dataKey = try await resolver.dataKey(forEncryptedKeys: blob.encryptedKeys, logger: logger)
        return try crypto { try blob.open(with: dataKey.key, associatedData: associatedData) }
    }

    private func crypto<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as EnvelopeCryptoError {
            throw VaultError(error)
        }
    }

    func validate(_ context: KeyContext?) throws {
        do {
            try context?.validate()
        } catch {
            throw VaultError(error)
        }
    }

    // MARK: Keys

    /// A fresh data key and its wrapped copies, for callers doing their own encryption.
    public func createDataKey(context: KeyContext) async throws -> ResolvedDataKey {
        try validate(context)
        return try await resolver.newDataKey(for: context, logger: logger)
    }

    /// The data key inside `encryptedKeys` (base64, as the key API returns it).
    public func decryptDataKey(encryptedKeys: String) async throws -> ResolvedDataKey {
        let keys = try crypto { try Base64.decode(encryptedKeys) }
        return try await resolver.dataKey(forEncryptedKeys: keys, logger: logger)
    }

    /// The same data key re-wrapped under `context`.
    public func rekeyDataKey(encryptedKeys: String, to context: KeyContext) async throws -> ResolvedDataKey {
        try validate(context)
        let keys = try crypto { try Base64.decode(encryptedKeys) }
        return try await resolver.rekey(encryptedKeys: keys, to: context, logger: logger)
    }

    // MARK: Objects

    /// Stores a new object. Its context never changes; updates add versions.
    /// - Throws: ``VaultError``: ``VaultError/Code-swift.struct/badRequest`` for a name that breaks
    ///   `ObjectName`'s rule and ``VaultError/Code-swift.struct/invalidKeyContext`` for a context
    ///   that breaks `KeyContext`'s, both before any request.
    public func createObject(name: String, value: String, context: KeyContext) async throws -> ObjectMetadata {
        do {
            try ObjectName.validate(name)
        } catch {
            throw VaultError(error)
        }
        try validate(context)
        return try await objects.createObject(name: name, value: value, context: context, logger: logger)
    }

    /// An object and its decrypted value.
    ///
    /// With `context`, the object is found only if its key context holds exactly these pairs,
    /// byte for byte ("retrieve with the same key context used at creation"); an object of any
    /// other context is the same ``VaultError/Code-swift.struct/notFound`` as a missing one, and
    /// its value is never returned. The same `context` parameter on the other object calls works
    /// alike. This is this project's extension of the WorkOS API: `vault serve` and the embedded
    /// store apply it, and against the WorkOS API the client checks each answer itself.
    /// - Throws: ``VaultError``: ``VaultError/Code-swift.struct/invalidKeyContext`` for a
    ///   `context` that breaks `KeyContext`'s rules, before any request.
    public func readObject(id: String, context: KeyContext? = nil) async throws -> VaultObject {
        try validate(context)
        return try await objects.readObject(id: id, context: context, logger: logger)
    }

    /// An object by name; see ``readObject(id:context:)`` for `context`.
    public func readObject(named name: String, context: KeyContext? = nil) async throws -> VaultObject {
        try validate(context)
        return try await objects.readObject(named: name, context: context, logger: logger)
    }

    /// The object as it was at version number `version` (1 for the first): that version's value
    /// and its own metadata. This project's extension of the WorkOS API (`GET
    /// /vault/v1/kv/{id}/versions/{version}`); see ``readObject(id:context:)`` for `context`.
    public func readObject(id: String, version: Int, context: KeyContext? = nil) async throws -> VaultObject {
        try validate(context)
        return try await objects.readObject(id: id, version: .number(version), context: context, logger: logger)
    }

    /// The object as it was at the version with id `versionID`; see ``readObject(id:version:context:)``.
    public func readObject(id: String, versionID: String, context: KeyContext? = nil) async throws -> VaultObject {
        try validate(context)
        return try await objects.readObject(id: id, version: .id(versionID), context: context, logger: logger)
    }

    /// Stores a new version. With `versionCheck` (a version id) or `expectedVersion` (a version
    /// number, `ObjectMetadata.version`), fails with ``VaultError/Code-swift.struct/versionConflict``
    /// unless it names the current version. With `context`, only an object of exactly that
    /// context is updated (see ``readObject(id:context:)``).
    public func updateObject(
        id: String,
        value: String,
        versionCheck: String? = nil,
        expectedVersion: Int? = nil,
        context: KeyContext? = nil
    ) async throws
        -> ObjectWithoutValue
    {
        try validate(context)
        return try await objects.updateObject(
            id: id,
            value: value,
            versionCheck: versionCheck,
            expectedVersion: expectedVersion,
            context: context,
            logger: logger
        )
    }

    /// Deletes an object, optionally only if `versionCheck` names its current version, and only
    /// if its context is exactly `context` when given. The object is gone at once; against
    /// `vault serve` and the embedded store its name stays held (a create with it is a
    /// ``VaultError/Code-swift.struct/conflict`` saying when it frees) until the object is purged,
    /// the purge delay after the delete (five minutes by default).
    public func deleteObject(
        id: String,
        versionCheck: String? = nil,
        context: KeyContext? = nil
    ) async throws
        -> DeleteObjectResponse
    {
        try validate(context)
        return try await objects.deleteObject(id: id, versionCheck: versionCheck, context: context, logger: logger)
    }

    /// An object's metadata, without decrypting its value; see ``readObject(id:context:)`` for `context`.
    public func describeObject(id: String, context: KeyContext? = nil) async throws -> ObjectWithoutValue {
        try validate(context)
        return try await objects.describeObject(id: id, context: context, logger: logger)
    }

    /// An object's versions, newest first; see ``readObject(id:context:)`` for `context`.
    public func listVersions(id: String, context: KeyContext? = nil) async throws -> [ObjectVersion] {
        try validate(context)
        return try await objects.listVersions(id: id, context: context, logger: logger).data
    }

    /// One page of objects; with `ListObjectsQuery.keyContext`, only the objects of exactly that
    /// context.
    public func listObjects(_ query: ListObjectsQuery = ListObjectsQuery()) async throws -> ListResponse<ObjectSummary>
    {
        try validate(query.keyContext)
        return try await objects.listObjects(query, logger: logger)
    }

    /// Every object matching `query`, fetched page by page as you iterate.
    public func allObjects(_ query: ListObjectsQuery = ListObjectsQuery()) -> ObjectSummaries {
        ObjectSummaries(objects: objects, query: query, logger: logger)
    }
}

/// Every object of a list query, page after page (following `list_metadata.after`).
public struct ObjectSummaries: AsyncSequence, Sendable {
    public typealias Element = ObjectSummary
    let objects: any VaultObjectService
    let query: ListObjectsQuery
    let logger: Logger?

    public func makeAsyncIterator() -> Iterator { Iterator(source: self) }

    public struct Iterator: AsyncIteratorProtocol {
        let source: ObjectSummaries
        var buffer: [ObjectSummary] = []
        var next: ListObjectsQuery?

        init(source: ObjectSummaries) {
            self.source = source
            self.next = source.query
        }

        public mutating func next() async throws -> ObjectSummary? {
            while buffer.isEmpty {
                guard let query = next else { return nil }
                let page = try await source.objects.listObjects(query, logger: source.logger)
                buffer = page.data.reversed()
                if let after = page.listMetadata.after, !page.data.isEmpty {
                    var following = query
                    following.after = after
                    following.before = nil
                    next = following
                } else {
                    next = nil
                }
            }
            return buffer.popLast()
        }
    }
}
