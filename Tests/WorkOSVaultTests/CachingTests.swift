import EnvelopeCrypto
import Foundation
import LocalVault
import Logging
import Synchronization
import Testing
import VaultAPI

@testable import WorkOSVault

/// A real embedded resolver that counts the requests reaching it and can be slowed down.
final class CountingResolver: KEKResolver {
    let base: EmbeddedKEKResolver
    let delay: Duration
    let newKeys = Atomic<Int>(0)
    let unwraps = Atomic<Int>(0)
    let directory: String

    init(delay: Duration = .zero) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)").path
        base = EmbeddedKEKResolver(
            vault: try LocalVault(configuration: LocalVaultConfiguration(dataDirectory: directory))
        )
        self.delay = delay
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func newDataKey(for context: KeyContext, logger: Logger?) async throws -> ResolvedDataKey {
        newKeys.add(1, ordering: .relaxed)
        if delay > .zero { try await Task.sleep(for: delay) }
        return try await base.newDataKey(for: context, logger: logger)
    }

    func dataKey(forEncryptedKeys encryptedKeys: [UInt8], logger: Logger?) async throws -> ResolvedDataKey {
        unwraps.add(1, ordering: .relaxed)
        if delay > .zero { try await Task.sleep(for: delay) }
        return try await base.dataKey(forEncryptedKeys: encryptedKeys, logger: logger)
    }

    func rekey(encryptedKeys: [UInt8], to context: KeyContext, logger: Logger?) async throws -> ResolvedDataKey {
        try await base.rekey(encryptedKeys: encryptedKeys, to: context, logger: logger)
    }
}

@Suite struct CachingTests {
    static func vault(
        _ counting: CountingResolver,
        encrypt: DataKeyCachePolicy?,
        decrypt: DecryptCachePolicy?
    ) -> (Vault, CachingKEKResolver) {
        let caching = CachingKEKResolver(wrapping: counting, encryptCache: encrypt, decryptCache: decrypt)
        let objects = EmbeddedObjectService(vault: counting.base.vault)
        return (Vault(resolver: caching, objects: objects), caching)
    }

    static func dataKeyIDs(_ blobs: [String], counting: CountingResolver) async throws -> [String] {
        var ids: [String] = []
        for blob in blobs {
            let keys = try EnvelopeBlob(base64Encoded: blob).encryptedKeys
            ids.append(try await counting.base.dataKey(forEncryptedKeys: keys, logger: nil).id)
        }
        return ids
    }

    @Test func withoutAnEncryptPolicyEveryMessageGetsItsOwnDataKey() async throws {
        let counting = try CountingResolver()
        let (vault, _) = Self.vault(counting, encrypt: nil, decrypt: nil)
        var blobs: [String] = []
        for index in 0..<20 { blobs.append(try await vault.encrypt("m\(index)", context: ["org": "a"])) }
        #expect(counting.newKeys.load(ordering: .relaxed) == 20)
        #expect(Set(try await Self.dataKeyIDs(blobs, counting: counting)).count == 20)
    }

    @Test func theMessageLimitIsNeverPassed() async throws {
        let counting = try CountingResolver()
        let (vault, caching) = Self.vault(counting, encrypt: DataKeyCachePolicy(maxMessages: 5), decrypt: nil)
        var blobs: [String] = []
        for index in 0..<23 { blobs.append(try await vault.encrypt("m\(index)", context: ["org": "a"])) }
        let ids = try await Self.dataKeyIDs(blobs, counting: counting)
        let uses = Dictionary(grouping: ids, by: { $0 }).mapValues(\.count)
        #expect(uses.values.allSatisfy { $0 <= 5 })
        #expect(counting.newKeys.load(ordering: .relaxed) == 5)
        let statistics = caching.statistics
        #expect(statistics.encryptMisses == 5)
        #expect(statistics.encryptHits == 18)
        #expect(statistics.encryptEvictions == 4)
        // Cached-key blobs are ordinary blobs: they decrypt without the cache.
        let plain = Vault(resolver: counting.base, objects: EmbeddedObjectService(vault: counting.base.vault))
        for (index, blob) in blobs.enumerated() { #expect(try await plain.decrypt(blob) == "m\(index)") }
    }

    @Test func theByteLimitAndTheAgeLimitAreChecked() async throws {
        let counting = try CountingResolver()
        let (vault, _) = Self.vault(counting, encrypt: DataKeyCachePolicy(maxBytes: 10), decrypt: nil)
        for _ in 0..<4 { _ = try await vault.encrypt("12345", context: ["org": "a"]) }  // two per key
        #expect(counting.newKeys.load(ordering: .relaxed) == 2)
        _ = try await vault.encrypt("this is longer than ten bytes", context: ["org": "a"])  // never cached
        #expect(counting.newKeys.load(ordering: .relaxed) == 3)

        let aging = try CountingResolver()
        let (young, _) = Self.vault(aging, encrypt: DataKeyCachePolicy(maxAge: .milliseconds(50)), decrypt: nil)
        _ = try await young.encrypt("a", context: ["org": "a"])
        _ = try await young.encrypt("b", context: ["org": "a"])
        try await Task.sleep(for: .milliseconds(80))
        _ = try await young.encrypt("c", context: ["org": "a"])
        #expect(aging.newKeys.load(ordering: .relaxed) == 2)
    }

    @Test func contextsDoNotShareKeysAndCapacityEvictsTheOldest() async throws {
        let counting = try CountingResolver()
        let (vault, caching) = Self.vault(counting, encrypt: DataKeyCachePolicy(capacity: 2), decrypt: nil)
        for org in ["a", "b", "c", "a"] { _ = try await vault.encrypt("x", context: ["org": org]) }
        #expect(counting.newKeys.load(ordering: .relaxed) == 4, "a was evicted to make room for c")
        #expect(caching.statistics.encryptEvictions == 2)
        // Contexts that differ only in how pairs split must not collide.
        #expect(CachingKEKResolver.cacheKey(for: ["a": "b:c"]) != CachingKEKResolver.cacheKey(for: ["a:b": "c"]))
    }

    @Test func hardCapsCannotBeExceeded() {
        let policy = DataKeyCachePolicy(
            maxAge: .seconds(86_400),
            maxMessages: Int.max,
            maxBytes: Int.max,
            capacity: Int.max
        )
        #expect(policy.maxAge == DataKeyCachePolicy.hardMaxAge)
        #expect(policy.maxMessages == 1 << 24)
        #expect(policy.maxBytes == 1 << 36)
        #expect(policy.capacity == 100_000)
    }

    @Test func concurrentMissesShareOneRequest() async throws {
        let counting = try CountingResolver(delay: .milliseconds(100))
        let (vault, caching) = Self.vault(counting, encrypt: DataKeyCachePolicy(), decrypt: DecryptCachePolicy())
        let blobs = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<20 { group.addTask { try await vault.encrypt("m\(index)", context: ["org": "a"]) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(counting.newKeys.load(ordering: .relaxed) == 1)
        #expect(caching.statistics.encryptMisses == 1)
        let plaintexts = try await withThrowingTaskGroup(of: String.self) { group in
            for blob in blobs { group.addTask { try await vault.decrypt(blob) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(plaintexts).count == 20)
        #expect(counting.unwraps.load(ordering: .relaxed) == 1)
        #expect(caching.statistics.decryptMisses == 1)
        #expect(caching.statistics.decryptHits == 19)
    }

    @Test func theDecryptCacheExpiresAndCanBeTurnedOff() async throws {
        let counting = try CountingResolver()
        let (vault, caching) = Self.vault(
            counting,
            encrypt: nil,
            decrypt: DecryptCachePolicy(maxAge: .milliseconds(50), capacity: 2)
        )
        let blob = try await vault.encrypt("x", context: ["org": "a"])
        _ = try await vault.decrypt(blob)
        _ = try await vault.decrypt(blob)
        #expect(counting.unwraps.load(ordering: .relaxed) == 1)
        try await Task.sleep(for: .milliseconds(80))
        _ = try await vault.decrypt(blob)
        #expect(counting.unwraps.load(ordering: .relaxed) == 2)
        #expect(caching.statistics.decryptEvictions == 1)

        let uncachedCounting = try CountingResolver()
        let (uncached, _) = Self.vault(uncachedCounting, encrypt: nil, decrypt: nil)
        let other = try await uncached.encrypt("y", context: ["org": "a"])
        for _ in 0..<3 { _ = try await uncached.decrypt(other) }
        #expect(uncachedCounting.unwraps.load(ordering: .relaxed) == 3)
    }

    @Test func batchDecryptDeduplicatesKeepsOrderAndIsolatesFailures() async throws {
        let counting = try CountingResolver()
        let (vault, _) = Self.vault(counting, encrypt: DataKeyCachePolicy(maxMessages: 10), decrypt: nil)
        var items: [Vault.DecryptItem] = []
        for index in 0..<2_500 {
            let aad = index % 3 == 0 ? "aad\(index)" : nil
            items.append(
                .init(
                    try await vault.encrypt("message \(index)", context: ["org": "o\(index % 7)"], associatedData: aad),
                    associatedData: aad
                )
            )
        }
        items[5] = .init("not base64 at all")
        items[6].associatedData = "wrong"
        // Expected: one request per distinct data key in each window of the batch.
        let expectedRequests = stride(from: 0, to: items.count, by: Vault.batchWindow).map { start in
            Set(
                items[start..<min(start + Vault.batchWindow, items.count)].compactMap {
                    try? EnvelopeBlob(base64Encoded: $0.blob).encryptedKeys
                }
            ).count
        }.reduce(0, +)
        let before = counting.unwraps.load(ordering: .relaxed)
        let results = await vault.decrypt(many: items, maxConcurrentRequests: 4)
        #expect(results.count == items.count)
        #expect(counting.unwraps.load(ordering: .relaxed) - before == expectedRequests)
        for (index, result) in results.enumerated() {
            switch (index, result) {
            case (5, .failure(let error)): #expect(error.code == .malformedBlob)
            case (6, .failure(let error)): #expect(error.code == .decryptionFailed)
            case (_, .success(let text)): #expect(text == "message \(index)")
            case (_, .failure(let error)): Issue.record("item \(index) failed: \(error)")
            }
        }
    }

    @Test func batchEncryptKeepsOrderAndReportsPerItemErrors() async throws {
        let counting = try CountingResolver()
        let (vault, _) = Self.vault(counting, encrypt: nil, decrypt: nil)
        var items = (0..<50).map { Vault.EncryptItem("item \($0)", context: ["org": "o\($0 % 3)"]) }
        items[10].context = ["org": ""]
        let results = await vault.encrypt(many: items, maxConcurrentRequests: 8)
        #expect(results.count == 50)
        if case .failure(let error) = results[10] {
            #expect(error.code == .invalidKeyContext)
        } else {
            Issue.record("item 10 should fail")
        }
        for (index, result) in results.enumerated() where index != 10 {
            #expect(try await vault.decrypt(try result.get()) == "item \(index)")
        }
    }
}
