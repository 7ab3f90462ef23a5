import EnvelopeCrypto
import Foundation
import Synchronization
import TestProcesses
import Testing
import VaultAPI
import VaultHTTP
import WorkOSVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGHUP makes `vault serve` reload its API keys file and its customer keys (BYOK) file, without
/// dropping requests; a file that cannot be used is refused with a log line and the keys in force
/// stay.
@Suite(
    "vault serve reloads its keys on SIGHUP",
    .enabled(if: VaultProcess.binary != nil || isCI, "the vault executable is not built (swift build)")
)
struct ServeReloadTests {
    static let first = "sk_test_reload_first_0001"
    static let second = "sk_test_reload_second_0002"
    static let transport = CurlTransport()

    /// The status of `GET /vault/v1/kv` with `key`; -1 when no response came.
    static func status(_ server: VaultProcess, key: String) async -> Int {
        let request = TransportRequest(
            method: .get,
            url: server.baseURL + "/vault/v1/kv?limit=1",
            headers: [("Authorization", "Bearer \(key)")],
            timeout: .seconds(20)
        )
        return (try? await transport.send(request).status) ?? -1
    }

    /// Sends SIGHUP and waits until the server has logged `message` one time more than before.
    static func reload(_ server: VaultProcess, expecting message: String) async throws {
        let before = occurrences(of: message, in: server.standardError)
        server.signal(SIGHUP)
        let deadline = ContinuousClock.now + .seconds(20)
        while occurrences(of: message, in: server.standardError) <= before {
            guard ContinuousClock.now < deadline else {
                Issue.record("no '\(message)' after SIGHUP; the log:\n\(server.standardError)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func occurrences(of text: String, in log: String) -> Int {
        log.components(separatedBy: text).count - 1
    }

    static func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static let reloaded = "configuration reloaded"

    /// `vault serve` whose only API key, ``first``, comes from `keys.txt` in `directory`.
    static func serveWithKeysFile(in directory: String) async throws -> (VaultProcess, keysFile: String) {
        let keysFile = directory + "/keys.txt"
        try write("\(first)\n", to: keysFile)
        let server = try await VaultProcess.serve(
            dataDirectory: directory,
            apiKeys: "",
            arguments: ["--api-keys-file", keysFile]
        )
        return (server, keysFile)
    }
    static let refused = "configuration reload refused"

    @Test("a new API key works and a removed one gets 401; requests in flight meanwhile succeed")
    func apiKeys() async throws {
        try await withTemporaryDirectory { directory in
            let (server, keysFile) = try await Self.serveWithKeysFile(in: directory)
            defer { server.stop() }
            #expect(await Self.status(server, key: Self.first) == 200)
            #expect(await Self.status(server, key: Self.second) == 401)

            // Load with the key that stays, on several connections, across a few reloads; stopped
            // by a flag rather than cancellation, which would cut a request short.
            let stop = StopFlag()
            let load = (0..<4).map { _ in
                Task {
                    var statuses: [Int] = []
                    while !stop.isSet { statuses.append(await Self.status(server, key: Self.first)) }
                    return statuses
                }
            }
            try Self.write("\(Self.first)\n\(Self.second)\n", to: keysFile)
            for _ in 0..<5 {
                try await Self.reload(server, expecting: Self.reloaded)
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(await Self.status(server, key: Self.second) == 200)
            stop.set()
            var statuses: [Int] = []
            for task in load { statuses += await task.value }
            #expect(statuses.count > 20)
            #expect(statuses.allSatisfy { $0 == 200 }, "\(Set(statuses))")

            try Self.write("# the first key is revoked\n\(Self.second)\n", to: keysFile)
            try await Self.reload(server, expecting: Self.reloaded)
            #expect(await Self.status(server, key: Self.first) == 401)
            #expect(await Self.status(server, key: Self.second) == 200)
            #expect(server.process.isRunning)
            #expect(server.standardError.contains("api_keys=1") || server.standardError.contains("\"api_keys\""))
            #expect(!server.standardError.contains(Self.first) && !server.standardError.contains(Self.second))
        }
    }

    @Test("a bad or missing API keys file is refused with a log line; the keys in force stay")
    func badAPIKeysFile() async throws {
        try await withTemporaryDirectory { directory in
            let (server, keysFile) = try await Self.serveWithKeysFile(in: directory)
            defer { server.stop() }

            let badLine = "pk_looks_like_a_secret_4242"
            try Self.write("\(Self.second)\n\(badLine)\n", to: keysFile)
            try await Self.reload(server, expecting: Self.refused)
            #expect(server.standardError.contains("\(keysFile) line 2"), "\(server.standardError)")
            #expect(!server.standardError.contains(badLine))
            #expect(!server.standardError.contains(Self.second))
            #expect(await Self.status(server, key: Self.first) == 200)
            #expect(await Self.status(server, key: Self.second) == 401)

            try FileManager.default.removeItem(atPath: keysFile)
            try await Self.reload(server, expecting: Self.refused)
            #expect(await Self.status(server, key: Self.first) == 200)
            #expect(server.process.isRunning)

            // A good file after refusals is taken.
            try Self.write("\(Self.second)\n", to: keysFile)
            try await Self.reload(server, expecting: Self.reloaded)
            #expect(await Self.status(server, key: Self.second) == 200)
            #expect(await Self.status(server, key: Self.first) == 401)
        }
    }

    @Test("a new customer key mapping takes effect; a bad BYOK file is refused and the mapping stays")
    func customerKeys() async throws {
        try await withTemporaryDirectory { directory in
            let byokFile = directory + "/byok.json"
            let keyFile = directory + "/org_byok.key"
            try Self.write(#"{"customer_keys": []}"#, to: byokFile)
            let server = try await VaultProcess.serve(
                dataDirectory: directory,
                apiKeys: Self.first,
                arguments: ["--customer-keys", byokFile]
            )
            defer { server.stop() }
            let remote = try RemoteConfiguration(apiKey: Self.first, baseURL: server.baseURL)
            let vault = try Vault(configuration: VaultConfiguration(backend: .remote(remote), decryptCache: nil))
            let context: KeyContext = ["organization_id": "org_byok"]

            // Before: a Vault-managed KEK.
            let before = try await vault.createDataKey(context: context)

            try Self.write(try DataKey.generate().base64EncodedString(), to: keyFile)
            _ = chmod(keyFile, 0o600)
            let mapping = """
                {"customer_keys": [{"context_key": "organization_id", "context_value": "org_byok",
                  "key_id": "cmk_org_byok", "provider": "file", "path": "org_byok.key"}]}
                """
            try Self.write(mapping, to: byokFile)
            try await Self.reload(server, expecting: Self.reloaded)
            let after = try await vault.createDataKey(context: context)
            #expect(try await vault.decryptDataKey(encryptedKeys: Base64.encode(after.encryptedKeys)).key == after.key)

            // The customer's key is gone: what it wraps cannot be read, the Vault-wrapped key still can.
            try FileManager.default.removeItem(atPath: keyFile)
            let revoked = await #expect(throws: VaultError.self) {
                _ = try await vault.decryptDataKey(encryptedKeys: Base64.encode(after.encryptedKeys))
            }
            #expect(revoked?.code == .authorization)
            #expect(
                try await vault.decryptDataKey(encryptedKeys: Base64.encode(before.encryptedKeys)).key == before.key
            )
            let refusedCreate = await #expect(throws: VaultError.self) {
                _ = try await vault.createDataKey(context: context)
            }
            #expect(refusedCreate?.code == .authorization)

            // A bad file: refused, and the mapping stays in force.
            try Self.write(#"{"customer_keys": [{"context_key": 7}]}"#, to: byokFile)
            try await Self.reload(server, expecting: Self.refused)
            // So is a well-formed entry its provider cannot use (no AWS KMS key ARN).
            let unusable = """
                {"customer_keys": [{"context_key": "organization_id", "context_value": "org_byok",
                  "key_id": "cmk_org_byok", "provider": "aws-kms", "arn": "not-an-arn"}]}
                """
            try Self.write(unusable, to: byokFile)
            try await Self.reload(server, expecting: Self.refused)
            #expect(server.standardError.contains("not an AWS KMS key ARN"))
            let stillMapped = await #expect(throws: VaultError.self) {
                _ = try await vault.createDataKey(context: context)
            }
            #expect(stillMapped?.code == .authorization)
            #expect(server.process.isRunning)

            // The mapping removed: Vault-managed KEKs again.
            try Self.write(#"{"customer_keys": []}"#, to: byokFile)
            try await Self.reload(server, expecting: Self.reloaded)
            _ = try await vault.createDataKey(context: context)
        }
    }
}

extension ServeReloadTests {
    /// An AWS KMS entry that loads without reaching KMS (the reload never calls it).
    static let awsEntry = """
        {"context_key": "organization_id", "context_value": "org_gone", "key_id": "cmk_gone", "provider": "aws-kms",
         "arn": "arn:aws:kms:us-east-1:111122223333:key/gone", "endpoint": "http://127.0.0.1:9"}
        """
    static let fileEntry = """
        {"context_key": "organization_id", "context_value": "org_file", "key_id": "cmk_file", "provider": "file",
         "path": "org_file.key"}
        """
    static let credentials = ["AWS_ACCESS_KEY_ID": "AKIDRELOADTEST", "AWS_SECRET_ACCESS_KEY": "reload-test-secret"]

    /// The `data` of each `vault.byok_key.deleted` event `key` can list, oldest first.
    static func deletedEvents(_ server: VaultProcess, key: String) async throws -> [[String: Any]] {
        let request = TransportRequest(
            method: .get,
            url: server.baseURL + "/events?events=vault.byok_key.deleted&order=asc",
            headers: [("Authorization", "Bearer \(key)")],
            timeout: .seconds(20)
        )
        let response = try await transport.send(request)
        #expect(response.status == 200)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let events = try #require(list["data"] as? [[String: Any]])
        for event in events { #expect(event["event"] as? String == "vault.byok_key.deleted") }
        return events.compactMap { $0["data"] as? [String: Any] }
    }

    @Test("removing an organization's cloud key from the BYOK file records vault.byok_key.deleted; the SDK reads it")
    func removedCustomerKeyIsRecorded() async throws {
        try await withTemporaryDirectory { directory in
            let byokFile = directory + "/byok.json"
            let keyFile = directory + "/org_file.key"
            try Self.write(try DataKey.generate().base64EncodedString(), to: keyFile)
            _ = chmod(keyFile, 0o600)
            try Self.write(#"{"customer_keys": [\#(Self.awsEntry), \#(Self.fileEntry)]}"#, to: byokFile)
            let staging = "sk_test_reload_staging_0003"
            let server = try await VaultProcess.serve(
                dataDirectory: directory,
                apiKeys: "\(Self.first),environment_staging:\(staging)",
                arguments: ["--customer-keys", byokFile],
                environment: Self.credentials
            )
            defer { server.stop() }
            #expect(try await Self.deletedEvents(server, key: Self.first).isEmpty)

            // Both mappings removed: an event for the AWS KMS key, none for the file key.
            try Self.write(#"{"customer_keys": []}"#, to: byokFile)
            try await Self.reload(server, expecting: Self.reloaded)
            for key in [Self.first, staging] {
                let events = try await Self.deletedEvents(server, key: key)
                #expect(events.count == 1, "\(events)")
                #expect(events.first?["organization_id"] as? String == "org_gone")
                #expect(events.first?["key_provider"] as? String == "AWS_KMS")
                #expect(events.first?["actor_id"] as? String == "admin")
                #expect(events.first?["actor_source"] as? String == "api")
            }
            #expect(server.standardError.contains("customer_keys_removed"))

            // A reload that removes nothing records nothing.
            try await Self.reload(server, expecting: Self.reloaded)
            #expect(try await Self.deletedEvents(server, key: Self.first).count == 1)
            #expect(!server.standardError.contains("reload-test-secret"))

            guard PythonInteropTests.sdkVersion != nil else { return }
            let parsed = try await Self.listWithPythonSDK(server, key: Self.first)
            #expect(parsed.status == 0, "\(parsed.error)")
            #expect(
                parsed.output == #"VaultByokKeyDeleted {"key_provider": "AWS_KMS", "organization_id": "org_gone"}"#
                    + "\n",
                "\(parsed.output)"
            )
        }
    }

    /// Runs Tests/Interop/sdk_list_events.py against `server` for `vault.byok_key.deleted`.
    static func listWithPythonSDK(
        _ server: VaultProcess,
        key: String
    ) async throws -> (status: Int32, output: String, error: String) {
        let environment = VaultProcess.environment([
            "WORKOS_BASE_URL": server.baseURL, "WORKOS_API_KEY": key, "WORKOS_CLIENT_ID": "client_test",
        ])
        let script = packageRoot.appendingPathComponent("Tests/Interop/sdk_list_events.py").path
        let finished = try await ChildProcess.run(
            "/usr/bin/env",
            ["python3", script, "vault.byok_key.deleted"],
            environment: environment,
            timeout: .seconds(60)
        )
        return (finished.status, finished.outputText, finished.error)
    }
}

/// Tells load loops to end after their current request.
final class StopFlag: Sendable {
    private let flag = Atomic(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}
