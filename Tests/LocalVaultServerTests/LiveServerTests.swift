import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultAPI

@testable import LocalVaultServer

/// The same application over a real socket on 127.0.0.1, port 0.
@Suite("Live server")
struct LiveServerTests {
    @Test("objects over the wire, with a name holding '/' and a query string")
    func objects() async throws {
        try await VaultHarness.run(.live) { _, client in
            #expect(client.port != nil)
            let created = try await client.createObject(name: "team/db password", value: "p@ss")
            let read = try await client.sendExpecting(
                VaultObject.self,
                .get,
                "/vault/v1/kv/name/\(encodeSegment("team/db password"))"
            )
            #expect(read.id == created.id && read.value == "p@ss")
            let list = try await client.sendExpecting(
                ListResponse<ObjectSummary>.self,
                .get,
                "/vault/v1/kv?limit=1&search=db+pass&order=asc"
            )
            #expect(list.data.map(\.id) == [created.id])
            let deleted = try await client.send(.delete, "/vault/v1/kv/\(created.id)")
            #expect(deleted.status == .ok)
            #expect(deleted.headers[HeaderName("x-request-id")!]?.isEmpty == false)
        }
    }

    @Test("401 and 429 over the wire, on one kept-alive connection")
    func refusals() async throws {
        try await VaultHarness.run(.live, rateLimit: RateLimit(requests: 3, window: .seconds(60))) { _, client in
            let unauthorized = try await client.send(.get, "/vault/v1/kv", key: "sk_nope")
            #expect(unauthorized.status == .unauthorized)
            for _ in 0..<3 {
                #expect(try await client.send(.get, "/vault/v1/kv").status == .ok)
            }
            let limited = try await client.send(.get, "/vault/v1/kv")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] != nil)
        }
    }

    @Test("413 over the wire")
    func tooLarge() async throws {
        // The server may answer an oversized body before reading it and then close the connection,
        // as HTTP allows, so this is the connection's last request.
        try await VaultHarness.run(.live, maxBodySize: 2_048) { _, client in
            let big = #"{"context": {"a": "\#(String(repeating: "b", count: 4_000))"}}"#
            let tooLarge = try await client.send(.post, "/vault/v1/keys/data-key", json: big)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(try tooLarge.errorBody().code == "payload_too_large")
        }
    }
}
