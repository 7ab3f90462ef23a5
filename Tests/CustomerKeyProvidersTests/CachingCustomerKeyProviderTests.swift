import EnvelopeCrypto
import LocalVault
import Synchronization
import Testing

/// The customer-key cache: hits skip the provider, entries expire after the TTL (revocation takes
/// effect), failures are not kept, and the associated data is part of the key.
struct CachingCustomerKeyProviderTests {
    /// Wraps to fixed bytes and unwraps to one key; counts unwraps; can be told to refuse.
    final class CountingProvider: CustomerKeyProvider {
        let unwraps = Atomic(0)
        let refusing = Atomic(false)
        let key: DataKey

        init(key: DataKey) { self.key = key }

        func wrap(_ key: DataKey, associatedData: [UInt8]) async throws -> [UInt8] { [1, 2, 3] }

        func unwrap(_ wrapped: [UInt8], associatedData: [UInt8]) async throws -> DataKey {
            unwraps.add(1, ordering: .relaxed)
            if refusing.load(ordering: .relaxed) {
                throw LocalVaultError(.insufficientPermissions, "insufficient permissions (test)")
            }
            return key
        }
    }

    @Test func hitsSkipTheProviderUntilTheTTLEnds() async throws {
        let key = try DataKey.generate()
        let base = CountingProvider(key: key)
        let cache = CachingCustomerKeyProvider(base, ttl: .milliseconds(300))
        #expect(try await cache.unwrap([9], associatedData: [1]) == key)
        #expect(try await cache.unwrap([9], associatedData: [1]) == key)
        #expect(base.unwraps.load(ordering: .relaxed) == 1)
        // Other associated data (or other bytes) is another entry.
        _ = try await cache.unwrap([9], associatedData: [2])
        _ = try await cache.unwrap([8], associatedData: [1])
        #expect(base.unwraps.load(ordering: .relaxed) == 3)

        // Revoked at the provider: still served until the TTL ends, then refused.
        base.refusing.store(true, ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(400))
        await #expect(throws: LocalVaultError.self) { _ = try await cache.unwrap([9], associatedData: [1]) }
        // Failures are not cached: the provider is asked each time.
        await #expect(throws: LocalVaultError.self) { _ = try await cache.unwrap([9], associatedData: [1]) }
        #expect(base.unwraps.load(ordering: .relaxed) == 5)
    }

    @Test func aWrappedKeyIsServedWithoutAnUnwrap() async throws {
        let key = try DataKey.generate()
        let base = CountingProvider(key: try DataKey.generate())
        let cache = CachingCustomerKeyProvider(base, ttl: .seconds(60))
        let wrapped = try await cache.wrap(key, associatedData: [7])
        #expect(try await cache.unwrap(wrapped, associatedData: [7]) == key)
        #expect(base.unwraps.load(ordering: .relaxed) == 0)
    }

    @Test func expiredEntriesAreDroppedOnTheNextSweep() async throws {
        let base = CountingProvider(key: try DataKey.generate())
        let cache = CachingCustomerKeyProvider(base, ttl: .milliseconds(100))
        for byte in 0..<10 as Range<UInt8> { _ = try await cache.unwrap([byte], associatedData: []) }
        #expect(cache.count == 10)
        try await Task.sleep(for: .milliseconds(200))
        _ = try await cache.unwrap([99], associatedData: [])
        #expect(cache.count == 1)
    }
}
