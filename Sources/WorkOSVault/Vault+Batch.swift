import EnvelopeCrypto
import Synchronization
import VaultAPI

/// Batches: many blobs at once, with one key request per distinct data key, a bounded number of
/// requests in flight (over the transport's pooled connections), results in input order and one
/// result per item, so that a bad blob fails only itself. Items are processed in windows, so
/// memory stays bounded by the window, not the batch.
extension Vault {
    /// One item of ``encrypt(many:maxConcurrentRequests:)``.
    public struct EncryptItem: Sendable {
        public var plaintext: String
        public var context: KeyContext
        public var associatedData: String?

        public init(_ plaintext: String, context: KeyContext, associatedData: String? = nil) {
            self.plaintext = plaintext
            self.context = context
            self.associatedData = associatedData
        }
    }

    /// One item of ``decrypt(many:maxConcurrentRequests:)``.
    public struct DecryptItem: Sendable {
        public var blob: String
        public var associatedData: String?

        public init(_ blob: String, associatedData: String? = nil) {
            self.blob = blob
            self.associatedData = associatedData
        }
    }

    /// How many items are in memory at once.
    static let batchWindow = 1_024

    /// Decrypts many base64 blobs.
    /// - Parameters:
    ///   - items: the blobs, each with its associated data.
    ///   - maxConcurrentRequests: key requests in flight at once (default 32, the
    ///     connections the transport opens per host: more would only queue in libcurl, and fewer
    ///     leave a single-core server fewer requests per wake-up).
    /// - Returns: one result per item, in input order.
    public func decrypt(
        many items: [DecryptItem],
        maxConcurrentRequests: Int = 32
    ) async -> [Result<String, VaultError>] {
        var results: [Result<String, VaultError>] = []
        results.reserveCapacity(items.count)
        for start in stride(from: 0, to: items.count, by: Self.batchWindow) {
            let window = items[start..<min(start + Self.batchWindow, items.count)]
            results += await decryptWindow(Array(window), maxConcurrentRequests: maxConcurrentRequests)
        }
        return results
    }

    /// Decrypts many base64 blobs that share no associated data (or have none).
    public func decrypt(
        many blobs: [String],
        associatedData: String? = nil,
        maxConcurrentRequests: Int = 32
    ) async
        -> [Result<String, VaultError>]
    {
        await decrypt(
            many: blobs.map { DecryptItem($0, associatedData: associatedData) },
            maxConcurrentRequests: maxConcurrentRequests
        )
    }

    /// Encrypts many items, each under its own context (and, unless the resolver caches, its own
    /// data key).
    /// - Returns: one base64 blob or error per item, in input order.
    public func encrypt(
        many items: [EncryptItem],
        maxConcurrentRequests: Int = 32
    ) async -> [Result<String, VaultError>] {
        var results: [Result<String, VaultError>] = []
        results.reserveCapacity(items.count)
        for start in stride(from: 0, to: items.count, by: Self.batchWindow) {
            let window = Array(items[start..<min(start + Self.batchWindow, items.count)])
            results += await Self.boundedMap(window, concurrency: maxConcurrentRequests) { item in
                await Self.result {
                    try await self.encrypt(item.plaintext, context: item.context, associatedData: item.associatedData)
                }
            }
        }
        return results
    }

    private func decryptWindow(_ items: [DecryptItem], maxConcurrentRequests: Int) async -> [Result<String, VaultError>]
    {
        // Parse everything first: a malformed blob fails alone and costs no request.
        let parsed = items.map { item in Self.syncResult { try EnvelopeBlob(base64Encoded: item.blob) } }
        // One request per distinct wrapped key; each item's key index is noted once.
        var distinct: [[UInt8]] = []
        var indexOfKeys: [WrappedKeys: Int] = [:]
        let keyIndexes = parsed.map { parsed -> Int? in
            guard case .success(let blob) = parsed else { return nil }
            let wrapped = WrappedKeys(bytes: blob.encryptedKeys)
            if let index = indexOfKeys[wrapped] { return index }
            indexOfKeys[wrapped] = distinct.count
            distinct.append(blob.encryptedKeys)
            return distinct.count - 1
        }
        let keys = await Self.boundedMap(distinct, concurrency: maxConcurrentRequests) { encryptedKeys in
            await Self.result { try await self.resolver.dataKey(forEncryptedKeys: encryptedKeys, logger: nil) }
        }
        return items.indices.map { position in
            let item = items[position]
            return parsed[position].flatMap { blob in
                keys[keyIndexes[position]!].flatMap { dataKey in
                    Self.syncResult {
                        let bytes = try blob.open(
                            with: dataKey.key,
                            associatedData: item.associatedData.map { Array($0.utf8) }
                        )
                        guard let text = String(validating: bytes, as: UTF8.self) else {
                            throw VaultError(.decryptionFailed, "the decrypted data is not UTF-8 text")
                        }
                        return text
                    }
                }
            }
        }
    }

    /// `transform` over `items` with at most `concurrency` running at once; results in input order.
    /// A fixed set of worker tasks takes the next item from a shared cursor, rather than a child
    /// task per item: no task is made per item and the group's owner is woken once per worker,
    /// not once per item.
    static func boundedMap<Item: Sendable, Output: Sendable>(
        _ items: [Item],
        concurrency: Int,
        _ transform: @escaping @Sendable (Item) async -> Output
    ) async -> [Output] {
        guard !items.isEmpty else { return [] }
        let cursor = BatchCursor()
        return await withTaskGroup(of: [(Int, Output)].self) { group in
            for _ in 0..<min(max(1, concurrency), items.count) {
                group.addTask {
                    var done: [(Int, Output)] = []
                    while case let index = cursor.take(), index < items.count {
                        done.append((index, await transform(items[index])))
                    }
                    return done
                }
            }
            var outputs = [Output?](repeating: nil, count: items.count)
            for await done in group {
                for (index, output) in done { outputs[index] = output }
            }
            return outputs.map { $0! }
        }
    }

    static func result<Output>(_ body: () async throws -> Output) async -> Result<Output, VaultError> {
        do {
            return .success(try await body())
        } catch {
            return .failure(VaultError(anyError: error))
        }
    }

    static func syncResult<Output>(_ body: () throws -> Output) -> Result<Output, VaultError> {
        Result(catching: body).mapError(VaultError.init(anyError:))
    }
}

extension VaultError {
    /// Any error of the layers below, as the client's error.
    init(anyError error: any Error) {
        switch error {
        case let error as VaultError: self = error
        case let error as EnvelopeCryptoError: self.init(error)
        case is CancellationError: self.init(.transport, "the operation was cancelled")
        default: self.init(.transport, "\(type(of: error))")
        }
    }
}

/// Wrapped keys as a dictionary key. `[UInt8]`'s own `Hashable` feeds the hasher one byte at a
/// time, which showed up in the profile of large batches; this hashes the bytes in one call.
struct WrappedKeys: Hashable {
    let bytes: [UInt8]

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// The next item a batch worker takes.
final class BatchCursor: Sendable {
    private let next = Atomic<Int>(0)

    /// A new index at every call, from 0 up.
    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}
