import EnvelopeCrypto
import Foundation
import Logging
import Testing
import VaultAPI
import VaultHTTP
import WorkOSVault

/// Every endpoint through the real libcurl transport against `vault serve` on 127.0.0.1:0.
@Suite(.timeLimit(.minutes(2)))
struct LiveClientTests {
    @Test func clientSideEncryptionRoundTripsInBothLayoutsAndRekeys() async throws {
        try await LiveServer.run { live in
            let vault = live.vault
            for layout in [BlobLayout.a, .b] {
                for plaintext in ["", "4242 4242 4242 4242", String(repeating: "ü", count: 5000)] {
                    let blob = try await vault.encrypt(
                        plaintext,
                        context: ["organization_id": "org_1"],
                        associatedData: "user_1",
                        layout: layout
                    )
                    #expect(try EnvelopeBlob(base64Encoded: blob).layout == layout)
                    #expect(try await vault.decrypt(blob, associatedData: "user_1") == plaintext)
                    let wrongAAD = await #expect(throws: VaultError.self) {
                        _ = try await vault.decrypt(blob, associatedData: "user_2")
                    }
                    #expect(wrongAAD?.code == .decryptionFailed)
                }
            }
            let blob = try await vault.encrypt("move me", context: ["organization_id": "org_1"])
            let moved = try await vault.rekey(blob, to: ["organization_id": "org_2"])
            #expect(try EnvelopeBlob(base64Encoded: moved).iv == EnvelopeBlob(base64Encoded: blob).iv)
            #expect(try await vault.decrypt(moved) == "move me")
            let malformed = await #expect(throws: VaultError.self) { _ = try await vault.decrypt("not base64!") }
            #expect(malformed?.code == .malformedBlob)
        }
    }

    @Test func theKeyAPI() async throws {
        try await LiveServer.run { live in
            let vault = live.vault
            let issued = try await vault.createDataKey(context: ["organization_id": "org_1"])
            let unwrapped = try await vault.decryptDataKey(encryptedKeys: Base64.encode(issued.encryptedKeys))
            #expect(unwrapped.key == issued.key)
            #expect(unwrapped.id == issued.id)
            let rekeyed = try await vault.rekeyDataKey(
                encryptedKeys: Base64.encode(issued.encryptedKeys),
                to: ["organization_id": "org_2"]
            )
            #expect(rekeyed.key == issued.key)
            let foreign = await #expect(throws: VaultError.self) {
                _ = try await vault.decryptDataKey(encryptedKeys: Base64.encode(Array("WOS.EKM.v1\0garbage".utf8)))
            }
            #expect(foreign?.code == .badRequest)
            #expect(foreign?.httpStatus == 400)
            #expect(foreign?.requestID?.isEmpty == false)
        }
    }

    @Test func theObjectAPI() async throws {
        try await LiveServer.run { live in
            let vault = live.vault
            let name = "stripe/live key ü?#%"
            let created = try await vault.createObject(
                name: name,
                value: "sk_live_1",
                context: ["organization_id": "org_1"]
            )
            let first = try #require(created.versionID)
            #expect(try await vault.readObject(id: created.id).value == "sk_live_1")
            #expect(try await vault.readObject(named: name).id == created.id)
            let duplicate = await #expect(throws: VaultError.self) {
                _ = try await vault.createObject(name: name, value: "x", context: ["organization_id": "org_1"])
            }
            #expect(duplicate?.code == .conflict)

            let updated = try await vault.updateObject(id: created.id, value: "sk_live_2", versionCheck: first)
            let stale = await #expect(throws: VaultError.self) {
                _ = try await vault.updateObject(id: created.id, value: "lost", versionCheck: first)
            }
            #expect(stale?.code == .versionConflict)
            #expect(stale?.httpStatus == 409)
            #expect(try await vault.describeObject(id: created.id).metadata.versionID == updated.metadata.versionID)
            let versions = try await vault.listVersions(id: created.id)
            #expect(versions.count == 2)
            #expect(versions.first?.currentVersion == true)

            for index in 0..<23 {
                _ = try await vault.createObject(
                    name: "bulk-\(index)",
                    value: "v",
                    context: ["organization_id": "org_1"]
                )
            }
            var names: [String] = []
            for try await summary in vault.allObjects(ListObjectsQuery(limit: 5, order: .ascending)) {
                names.append(summary.name)
            }
            #expect(names.count == 24)
            #expect(Set(names).count == 24)
            #expect(names.first == name)
            let page = try await vault.listObjects(ListObjectsQuery(limit: 10, search: "bulk-1"))
            #expect(page.data.count == 10)
            #expect(page.data.allSatisfy { $0.name.hasPrefix("bulk-1") })

            let deleted = try await vault.deleteObject(id: created.id, versionCheck: updated.metadata.versionID)
            #expect(deleted.name == name)
            let gone = await #expect(throws: VaultError.self) { _ = try await vault.readObject(id: created.id) }
            #expect(gone?.code == .notFound)
            #expect(gone?.httpStatus == 404)
        }
    }

    @Test func connectionsAreKeptAliveAndManyRequestsRunAtOnce() async throws {
        try await LiveServer.run { live in
            let request = TransportRequest(
                method: .post,
                url: live.baseURL + "/vault/v1/keys/data-key",
                headers: [("Authorization", "Bearer \(LiveServer.apiKey)"), ("Content-Type", "application/json")],
                body: Array(#"{"context":{"organization_id":"org_1"}}"#.utf8)
            )
            let first = try await live.transport.send(request)
            let second = try await live.transport.send(request)
            #expect(first.status == 200)
            #expect(first.newConnections == 1)
            #expect(second.newConnections == 0, "the second request should reuse the first connection")

            let vault = live.vault
            let blobs = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<64 {
                    group.addTask {
                        try await vault.encrypt("message \(index)", context: ["organization_id": "org_\(index % 4)"])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(blobs.count == 64)
            for blob in blobs.prefix(8) { #expect(try await vault.decrypt(blob).hasPrefix("message ")) }
        }
    }

    @Test func wrongAPIKeyIsAnAuthenticationError() async throws {
        try await LiveServer.run { live in
            let configuration = try RemoteConfiguration(apiKey: "sk_test_wrong", baseURL: live.baseURL, retry: .none)
            let client = VaultRESTClient(configuration: configuration, transport: live.transport)
            let vault = Vault(resolver: RemoteKEKResolver(client: client), objects: client)
            let error = await #expect(throws: VaultError.self) { _ = try await vault.encrypt("x", context: ["a": "b"]) }
            #expect(error?.code == .authentication)
            #expect(error?.httpStatus == 401)
            #expect(error?.message.contains("sk_test_wrong") == false)
        }
    }

    @Test func aFullRoundTripLogsNoSecrets() async throws {
        let clientLines = RecordingLogHandler.Lines()
        let serverLines = RecordingLogHandler.Lines()
        let clientLogger = Logger(label: "client") { _ in RecordingLogHandler(lines: clientLines) }
        let serverLogger = Logger(label: "server") { _ in RecordingLogHandler(lines: serverLines) }
        let plaintext = "PLAINTEXT-\(UUID().uuidString)"
        let value = "VALUE-\(UUID().uuidString)"
        var secrets = [LiveServer.apiKey, plaintext, value]
        try await LiveServer.run(clientLogger: clientLogger, serverLogger: serverLogger) { live in
            let vault = live.vault
            let blob = try await vault.encrypt(plaintext, context: ["organization_id": "org_1"])
            #expect(try await vault.decrypt(blob) == plaintext)
            let issued = try await vault.createDataKey(context: ["organization_id": "org_1"])
            _ = try await vault.decryptDataKey(encryptedKeys: Base64.encode(issued.encryptedKeys))
            let created = try await vault.createObject(
                name: "redaction",
                value: value,
                context: ["organization_id": "org_1"]
            )
            _ = try await vault.readObject(id: created.id)
            _ = try await vault.updateObject(id: created.id, value: value + "2")
            _ = try await vault.deleteObject(id: created.id)
            let parsed = try EnvelopeBlob(base64Encoded: blob)
            let secretsFromRun = [
                issued.key.base64EncodedString(), Base64.encode(issued.encryptedKeys),
                Base64.encode(parsed.encryptedKeys),
                blob,
            ]
            for secret in secretsFromRun {
                #expect(!clientLines.all.contains(secret))
                #expect(!serverLines.all.contains(secret))
            }
        }
        secrets.append("Bearer")
        #expect(!clientLines.all.isEmpty, "the client should have logged its requests")
        #expect(!serverLines.all.isEmpty, "the server should have logged its requests")
        for secret in secrets {
            #expect(!clientLines.all.contains(secret), "client log leaked \(secret.prefix(12))")
            #expect(!serverLines.all.contains(secret), "server log leaked \(secret.prefix(12))")
        }
    }
}

/// Blobs cross between this client and the official WorkOS Python SDK, both against the same
/// `vault serve`.
@Suite(.enabled(if: PythonSDK.shouldRun), .timeLimit(.minutes(2)))
struct PythonInteropTests {
    @Test func blobsCrossBothWays() async throws {
        try await LiveServer.run { live in
            let vault = live.vault
            let cases: [(text: String, context: [String: String], aad: String?)] = [
                ("4242 4242 4242 4242", ["organization_id": "org_1"], nil),
                ("", ["organization_id": "org_1", "region": "eu"], "user_456"),
                ("ünïcødé ✓ 秘密", ["tenant": "t"], "ssn"),
            ]
            var ours: [String] = []
            for item in cases {
                ours.append(
                    try await vault.encrypt(item.text, context: KeyContext(item.context), associatedData: item.aad)
                )
            }
            struct Request: Encodable {
                struct Encrypt: Encodable {
                    var data: String
                    var context: [String: String]
                    var aad: String?
                }
                struct Decrypt: Encodable {
                    var blob: String
                    var aad: String?
                }
                var encrypt: [Encrypt]
                var decrypt: [Decrypt]
            }
            let request = Request(
                encrypt: cases.map { .init(data: $0.text, context: $0.context, aad: $0.aad) },
                decrypt: zip(ours, cases).map { .init(blob: $0, aad: $1.aad) } + [.init(blob: ours[1], aad: "wrong")]
            )
            let result = try await PythonSDK.run(
                [PythonSDK.interopFolder.appendingPathComponent("python_vault_blobs.py").path],
                input: try JSONEncoder().encode(request),
                environment: [
                    "WORKOS_BASE_URL": live.baseURL, "WORKOS_API_KEY": LiveServer.apiKey,
                    "WORKOS_CLIENT_ID": "client_test",
                ]
            )
            try #require(result.status == 0, "the Python SDK failed: \(result.error.suffix(2_000))")
            struct Response: Decodable {
                var encrypted: [String]
                var decrypted: [DecryptedItem]
            }
            enum DecryptedItem: Decodable, Equatable {
                case text(String)
                case error(String)
                init(from decoder: any Decoder) throws {
                    if let text = try? decoder.singleValueContainer().decode(String.self) {
                        self = .text(text)
                    } else {
                        self = .error(try decoder.singleValueContainer().decode([String: String].self)["error"] ?? "")
                    }
                }
            }
            let response = try JSONDecoder().decode(Response.self, from: result.output)
            // Ours (layout A) decrypt in Python; the wrong associated data fails there too.
            #expect(Array(response.decrypted.prefix(3)) == cases.map { .text($0.text) })
            #expect(response.decrypted.last.map { if case .error = $0 { true } else { false } } == true)
            // Python's decrypt here.
            for (blob, item) in zip(response.encrypted, cases) {
                #expect(try EnvelopeBlob(base64Encoded: blob).layout == .a)
                #expect(try await vault.decrypt(blob, associatedData: item.aad) == item.text)
            }
        }
    }
}
