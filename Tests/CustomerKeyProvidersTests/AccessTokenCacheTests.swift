import Synchronization
import Testing

@testable import CustomerKeyProviders

@Suite("Access token cache")
struct AccessTokenCacheTests {
    /// A token endpoint stand-in that counts its calls and can fail or answer slowly.
    final class Endpoint: Sendable {
        let calls = Atomic<Int>(0)
        let failing = Atomic<Bool>(false)
        let lifetime: Duration
        let issuedAgo: Duration

        init(lifetime: Duration = .seconds(3600), issuedAgo: Duration = .zero) {
            self.lifetime = lifetime
            self.issuedAgo = issuedAgo
        }

        func fetch() async throws -> AccessToken {
            let number = calls.add(1, ordering: .relaxed).newValue
            try await Task.sleep(for: .milliseconds(50))
            if failing.load(ordering: .relaxed) { throw TestFailure() }
            return AccessToken(value: "token-\(number)", lifetime: lifetime, now: .now - issuedAgo)
        }
    }

    struct TestFailure: Error {}

    @Test("many concurrent callers cause one fetch, and the token is reused afterwards")
    func oneFetchForABurst() async throws {
        let endpoint = Endpoint()
        let cache = AccessTokenCache { try await endpoint.fetch() }
        let values = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<40 { group.addTask { try await cache.token().value } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(values == ["token-1"])
        #expect(try await cache.token().value == "token-1")
        #expect(endpoint.calls.load(ordering: .relaxed) == 1)
    }

    @Test("a token close to its expiry is replaced")
    func nearExpiryIsRefreshed() async throws {
        // Issued 40 s of its 60 s ago: under half its life is left, so it is not handed out again.
        let endpoint = Endpoint(lifetime: .seconds(60), issuedAgo: .seconds(40))
        let cache = AccessTokenCache { try await endpoint.fetch() }
        #expect(try await cache.token().value == "token-1")
        #expect(try await cache.token().value == "token-2")
        #expect(endpoint.calls.load(ordering: .relaxed) == 2)
    }

    @Test("a refused token is replaced once, however many callers report it")
    func replacingARefusedToken() async throws {
        let endpoint = Endpoint()
        let cache = AccessTokenCache { try await endpoint.fetch() }
        let first = try await cache.token()
        let replacements = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 { group.addTask { try await cache.token(replacing: first).value } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(replacements == ["token-2"])
        #expect(endpoint.calls.load(ordering: .relaxed) == 2)
    }

    @Test("a failed fetch fails its callers, caches nothing, and the next call tries again")
    func failedFetch() async throws {
        let endpoint = Endpoint()
        endpoint.failing.store(true, ordering: .relaxed)
        let cache = AccessTokenCache { try await endpoint.fetch() }
        await #expect(throws: TestFailure.self) { try await cache.token() }
        endpoint.failing.store(false, ordering: .relaxed)
        #expect(try await cache.token().value == "token-2")
    }

    @Test("a token never shows its value in descriptions")
    func redacted() {
        let token = AccessToken(value: "ya29.secret-value", lifetime: .seconds(60))
        var dumped = ""
        dump(token, to: &dumped)
        for text in ["\(token)", String(reflecting: token), dumped] {
            #expect(!text.contains("secret-value"))
        }
    }
}
