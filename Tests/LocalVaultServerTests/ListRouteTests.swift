import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VaultAPI

@testable import LocalVaultServer

@Suite("GET /vault/v1/kv")
struct ListRouteTests {
    /// Follows `after` cursors from the first page to the last.
    private func walk(
        _ client: any TestClientProtocol,
        order: String,
        limit: Int
    ) async throws -> [ListResponse<ObjectSummary>] {
        var pages: [ListResponse<ObjectSummary>] = []
        var after: String?
        repeat {
            let cursor = after.map { "&after=\($0)" } ?? ""
            let page = try await client.sendExpecting(
                ListResponse<ObjectSummary>.self,
                .get,
                "/vault/v1/kv?limit=\(limit)&order=\(order)\(cursor)"
            )
            pages.append(page)
            after = page.listMetadata.after
        } while after != nil && pages.count < 20
        return pages
    }

    @Test("pages over more than one page in both orders, forwards and backwards")
    func pagination() async throws {
        try await VaultHarness.run { _, client in
            var names: [String] = []
            for index in 0..<23 {
                let name = "object-\(index)"
                _ = try await client.createObject(name: name)
                names.append(name)
            }

            let descending = try await walk(client, order: "desc", limit: 10)
            #expect(descending.map(\.data.count) == [10, 10, 3])
            #expect(descending.first?.listMetadata.before == nil)
            let descendingNames = descending.flatMap(\.data).map(\.name)
            #expect(Set(descendingNames) == Set(names) && descendingNames.count == names.count)

            let ascending = try await walk(client, order: "asc", limit: 10)
            #expect(ascending.map(\.data.count) == [10, 10, 3])
            #expect(ascending.flatMap(\.data).map(\.name) == descendingNames.reversed())

            // The default order is descending with 10 a page.
            let first = try await client.sendExpecting(ListResponse<ObjectSummary>.self, .get, "/vault/v1/kv")
            #expect(first == descending[0])

            // Back from the last page with `before`, in both orders.
            for pages in [descending, ascending] {
                let order = pages == descending ? "desc" : "asc"
                let before = try #require(pages[2].listMetadata.before)
                let back = try await client.sendExpecting(
                    ListResponse<ObjectSummary>.self,
                    .get,
                    "/vault/v1/kv?limit=10&order=\(order)&before=\(before)"
                )
                #expect(back.data == pages[1].data)
                let firstAgain = try await client.sendExpecting(
                    ListResponse<ObjectSummary>.self,
                    .get,
                    "/vault/v1/kv?limit=10&order=\(order)&before=\(try #require(back.listMetadata.before))"
                )
                #expect(firstAgain.data == pages[0].data)
                #expect(firstAgain.listMetadata.before == nil)
            }
        }
    }

    @Test("search, updated_after and updatedAfter filter the list")
    func filters() async throws {
        try await VaultHarness.run { _, client in
            _ = try await client.createObject(name: "alpha one")
            _ = try await client.createObject(name: "beta")
            let search = try await client.sendExpecting(
                ListResponse<ObjectSummary>.self,
                .get,
                "/vault/v1/kv?search=alpha+on"
            )
            #expect(search.data.map(\.name) == ["alpha one"])
            for parameter in ["updated_after", "updatedAfter"] {
                let past = try await client.sendExpecting(
                    ListResponse<ObjectSummary>.self,
                    .get,
                    "/vault/v1/kv?\(parameter)=2000-01-01T00:00:00.000Z"
                )
                #expect(past.data.count == 2)
                let future = try await client.sendExpecting(
                    ListResponse<ObjectSummary>.self,
                    .get,
                    "/vault/v1/kv?\(parameter)=2999-01-01T00%3A00%3A00.123456%2B00%3A00"
                )
                #expect(future.data.isEmpty)
            }
        }
    }

    @Test(
        "invalid query parameters are 422",
        arguments: [
            "limit=0", "limit=101", "limit=ten", "order=sideways", "updated_after=yesterday",
            "updatedAfter=2026-13-45T00:00:00Z", "after=no-such-object",
        ]
    )
    func invalidQueries(query: String) async throws {
        try await VaultHarness.run { _, client in
            let response = try await client.send(.get, "/vault/v1/kv?\(query)")
            #expect(response.status == .unprocessableContent)
            _ = try response.errorBody()
        }
    }

    @Test("limits 1 and 100 are accepted")
    func limitBounds() async throws {
        try await VaultHarness.run { _, client in
            _ = try await client.createObject(name: "a")
            _ = try await client.createObject(name: "b")
            let one = try await client.sendExpecting(ListResponse<ObjectSummary>.self, .get, "/vault/v1/kv?limit=1")
            #expect(one.data.count == 1 && one.listMetadata.after != nil)
            let hundred = try await client.sendExpecting(
                ListResponse<ObjectSummary>.self,
                .get,
                "/vault/v1/kv?limit=100"
            )
            #expect(hundred.data.count == 2 && hundred.listMetadata.after == nil)
        }
    }
}
