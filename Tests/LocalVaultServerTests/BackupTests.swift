import EnvelopeCrypto
import Foundation
import LocalVault
import Synchronization
import Testing
import VaultAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vault admin backup`: a consistent, private copy of a SQLite store while `vault serve` writes
/// to it, which opens with the store's root key and holds no root key.
@Suite(.enabled(if: VaultProcess.binary != nil || isCI, "the vault executable is not built (swift build)"))
struct BackupTests {
    static let key = "sk_test_backup_0001"

    @Test(
        "a backup taken while the server writes holds every object acknowledged before it, and opens with the root key"
    )
    func backupWhileServing() async throws {
        try await withTemporaryDirectory { directory in
            let data = (directory as NSString).appendingPathComponent("data")
            let server = try await VaultProcess.serve(dataDirectory: data, apiKeys: Self.key)
            defer { server.stop() }
            let port = try #require(server.port)

            // A writer that keeps creating objects, recording each acknowledged name.
            let acknowledged = Mutex<[String]>([])
            let stop = Atomic(false)
            let writer = Task {
                var index = 0
                while !stop.load(ordering: .relaxed) {
                    let name = "object-\(index)"
                    let json =
                        #"{"name": "\#(name)", "value": "value \#(index)", "key_context": {"org": "o\#(index % 3)"}}"#
                    let answer = try await liveRequest(port: port, .post, "/vault/v1/kv", key: Self.key, json: json)
                    guard answer.status == 201 else { throw BackupTestError.write(answer.status) }
                    acknowledged.withLock { $0.append(name) }
                    index += 1
                }
            }
            #expect(try await eventually { acknowledged.withLock { $0.count } >= 50 })
            let before = Set(acknowledged.withLock { $0 })
            let output = (directory as NSString).appendingPathComponent("backup.sqlite")
            let result = try await VaultProcess.run(["admin", "backup", "--data-dir", data, "--out", output])
            let after = Set(acknowledged.withLock { $0 })
            #expect(try await eventually { acknowledged.withLock { $0.count } >= after.count + 5 })
            stop.store(true, ordering: .relaxed)
            try await writer.value

            #expect(result.status == 0, "\(result.error)")
            #expect(result.output.contains("the root key is not in the copy"), "\(result.output)")
            var status = stat()
            #expect(stat(output, &status) == 0)
            #expect(status.st_mode & 0o777 == 0o600)
            for suffix in ["-wal", "-shm", "-journal"] {
                #expect(!FileManager.default.fileExists(atPath: output + suffix), "\(suffix) left beside the copy")
            }

            // No root key in the copy: neither its bytes (root.key holds them raw) nor their base64.
            let rootKeyBytes = try Data(
                contentsOf: URL(fileURLWithPath: (data as NSString).appendingPathComponent("root.key"))
            )
            #expect(rootKeyBytes.count == 32)
            let rootKeyText = rootKeyBytes.base64EncodedString()
            let copyBytes = try Data(contentsOf: URL(fileURLWithPath: output))
            #expect(copyBytes.range(of: rootKeyBytes) == nil)
            #expect(copyBytes.range(of: Data(rootKeyText.utf8)) == nil)

            // The copy, as the store of another folder, opens with the same root key.
            let restored = (directory as NSString).appendingPathComponent("restored")
            try FileManager.default.createDirectory(atPath: restored, withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                atPath: output,
                toPath: (restored as NSString).appendingPathComponent("vault.sqlite")
            )
            let vault = try LocalVault(
                configuration: LocalVaultConfiguration(
                    dataDirectory: restored,
                    rootKey: .base64(rootKeyText),
                    purgesInBackground: false
                )
            )
            let page = try await vault.listObjects(
                ListObjectsQuery(limit: 100),
                environmentID: LocalVault.defaultEnvironmentID
            )
            var names = Set(page.data.map(\.name))
            var cursor = page.listMetadata.after
            while let after = cursor {
                let next = try await vault.listObjects(
                    ListObjectsQuery(limit: 100, after: after),
                    environmentID: LocalVault.defaultEnvironmentID
                )
                names.formUnion(next.data.map(\.name))
                cursor = next.listMetadata.after
            }
            // Everything acknowledged before the backup started, nothing beyond what was sent
            // before it ended (one request may have been in flight).
            #expect(before.isSubset(of: names))
            #expect(names.count <= after.count + 1)
            let sample = try #require(before.sorted().first)
            let index = try #require(Int(sample.dropFirst("object-".count)))
            #expect(
                try await vault.readObject(named: sample, environmentID: LocalVault.defaultEnvironmentID).value
                    == "value \(index)"
            )
            await vault.close()

            // Another root key does not open it.
            let otherKey = try DataKey.generate().base64EncodedString()
            let error = #expect(throws: LocalVaultError.self) {
                _ = try LocalVault(
                    configuration: LocalVaultConfiguration(
                        dataDirectory: restored,
                        rootKey: .base64(otherKey),
                        purgesInBackground: false
                    )
                )
            }
            #expect(error?.rule == .rootKey)
        }
    }

    @Test("an existing --out is kept unless --force; --database points to pg_dump; no store is an error")
    func refusals() async throws {
        try await withTemporaryDirectory { directory in
            let data = (directory as NSString).appendingPathComponent("data")
            let server = try await VaultProcess.serve(dataDirectory: data, apiKeys: Self.key)
            let port = try #require(server.port)
            let json = #"{"name": "kept", "value": "v", "key_context": {"k": "v"}}"#
            #expect(try await liveRequest(port: port, .post, "/vault/v1/kv", key: Self.key, json: json).status == 201)
            server.stop()

            let output = (directory as NSString).appendingPathComponent("existing")
            try Data("precious".utf8).write(to: URL(fileURLWithPath: output))
            let refused = try await VaultProcess.run(["admin", "backup", "--data-dir", data, "--out", output])
            #expect(refused.status == 1)
            #expect(refused.error.contains("--out exists: pass --force"), "\(refused.error)")
            #expect(try String(contentsOfFile: output, encoding: .utf8) == "precious")

            let forced = try await VaultProcess.run(["admin", "backup", "--data-dir", data, "--out", output, "--force"])
            #expect(forced.status == 0, "\(forced.error)")
            #expect(forced.output.contains("objects: 1"), "\(forced.output)")
            let header = try Data(contentsOf: URL(fileURLWithPath: output)).prefix(16)
            #expect(header == Data("SQLite format 3\0".utf8))
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
                $0.hasPrefix(".vault-out")
            }
            #expect(leftovers.isEmpty)

            let database = try await VaultProcess.run(
                ["admin", "backup", "--out", output + "-pg", "--database", "postgres://vault@db:5432/vault"]
            )
            #expect(database.status != 0)
            #expect(database.error.contains("pg_dump"), "\(database.error)")

            let empty = (directory as NSString).appendingPathComponent("empty")
            let none = try await VaultProcess.run(["admin", "backup", "--data-dir", empty, "--out", output + "-none"])
            #expect(none.status == 5)
            #expect(none.error.contains("no store in"), "\(none.error)")
            #expect(!FileManager.default.fileExists(atPath: output + "-none"))
        }
    }
}

enum BackupTestError: Error {
    case write(Int)
}
