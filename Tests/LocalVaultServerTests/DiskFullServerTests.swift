import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import Testing

@testable import LocalVault

/// A full disk answers 500 without details and logs "disk full".
@Suite struct DiskFullServerTests {
    @Test("a write into a full store is a 500 whose log line says disk full")
    func diskFullIsLogged() async throws {
        let handler = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in handler })
        let (status, body) = try await VaultHarness.run(logger: logger) { harness, client in
            _ = try await client.createObject(name: "first", value: "v")
            try await harness.vault.store.pool.writeWithoutTransaction { db in
                let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 1
                try db.execute(sql: "PRAGMA max_page_count = \(pages)")
            }
            let value = String(repeating: "x", count: 200_000)
            let response = try await client.send(
                .post,
                "/vault/v1/kv",
                json: #"{"name": "second", "value": "\#(value)", "key_context": {"k": "v"}}"#
            )
            return (response.status.code, String(buffer: response.body))
        }
        #expect(status == 500)
        #expect(!body.contains("disk"), "\(body)")
        let errors = handler.entries.filter { $0.level == .error }.map { "\($0.message) \($0.metadata)" }
        #expect(errors.contains { $0.contains("disk full") }, "\(errors)")
    }
}
