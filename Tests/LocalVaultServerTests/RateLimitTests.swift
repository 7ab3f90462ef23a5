import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import VaultAPI

@testable import LocalVaultServer

@Suite("Rate limiting")
struct RateLimitTests {
    @Test("a key over its limit gets 429 with Retry-After and the WorkOS body; other keys do not")
    func limited() async throws {
        try await VaultHarness.run(rateLimit: RateLimit(requests: 3, window: .seconds(60))) { _, client in
            for _ in 0..<3 {
                #expect(try await client.send(.get, "/vault/v1/kv").status == .ok)
            }
            let response = try await client.send(.get, "/vault/v1/kv")
            #expect(response.status == .tooManyRequests)
            let retryAfter = try #require(response.headers[.retryAfter].flatMap(Int.init))
            #expect((1...60).contains(retryAfter))
            #expect(
                try response.errorBody()
                    == ErrorBody(
                        error: "Too many requests.",
                        message: "Too many requests.",
                        code: "rate_limit_exceeded"
                    )
            )
            #expect(response.headers[HeaderName("x-request-id")!] != nil)
            // Limits are per key.
            #expect(try await client.send(.get, "/vault/v1/kv", key: TestKeys.secondary).status == .ok)
        }
    }

    @Test("a window admits its quota, then opens again when it ends")
    func windows() {
        let clock = Mutex(ContinuousClock.now)
        let limiter = RateLimiter(limit: RateLimit(requests: 2, window: .seconds(10))) { clock.withLock { $0 } }
        #expect(limiter.admit("a") == .allowed)
        clock.withLock { $0 += .seconds(1) }
        #expect(limiter.admit("a") == .allowed)
        #expect(limiter.admit("a") == .limited(retryAfterSeconds: 9))
        #expect(limiter.admit("b") == .allowed)
        clock.withLock { $0 += .milliseconds(8_500) }
        #expect(limiter.admit("a") == .limited(retryAfterSeconds: 1))
        clock.withLock { $0 += .milliseconds(500) }
        #expect(limiter.admit("a") == .allowed)
        #expect(limiter.admit("a") == .allowed)
        #expect(limiter.admit("a") == .limited(retryAfterSeconds: 10))
    }
}
