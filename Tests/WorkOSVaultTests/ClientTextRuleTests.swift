import EnvelopeCrypto
import Foundation
import Testing
import VaultAPI
import VaultHTTP

@testable import WorkOSVault

/// The client refuses names and contexts that break the text rules (control characters, byte
/// caps) before any request, with errors that never quote them.
@Suite(.timeLimit(.minutes(1)))
struct ClientTextRuleTests {
    static func vault(_ server: ScriptedHTTPServer) throws -> Vault {
        let configuration = try RemoteConfiguration(apiKey: "sk_test_text", baseURL: server.baseURL)
        let client = VaultRESTClient(configuration: configuration)
        return Vault(resolver: RemoteKEKResolver(client: client), objects: client)
    }

    static let heavy = String(repeating: "e\u{301}\u{302}\u{303}\u{304}", count: 200)

    @Test(
        "names breaking the rule are refused before any request",
        arguments: ["ECHO\u{0}x", "ECHO\n", "ECHO\u{7F}", "ECHO\u{85}", "", heavy]
    )
    func names(name: String) async throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        let error = await #expect(throws: VaultError.self) {
            _ = try await Self.vault(server).createObject(name: name, value: "v", context: ["k": "v"])
        }
        #expect(error?.code == .badRequest)
        #expect(error?.message.contains("ECHO") == false && error?.message.contains("e\u{301}") == false)
        #expect(server.requests.isEmpty)
    }

    @Test(
        "contexts breaking the rule are refused before any request",
        arguments: [
            ["organization_id": "org_next\u{0}"], ["organization_id\u{0}zz": "org_next"], ["k": "v\u{9F}"],
            ["k": heavy + heavy + heavy], [String(heavy.prefix(100)): "v"],
        ]
    )
    func contexts(pairs: [String: String]) async throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        let vault = try Self.vault(server)
        let context = KeyContext(pairs)
        let calls: [@Sendable () async throws -> Void] = [
            { _ = try await vault.encrypt("x", context: context) },
            { _ = try await vault.createDataKey(context: context) },
            { _ = try await vault.createObject(name: "n", value: "v", context: context) },
        ]
        for call in calls {
            let error = await #expect(throws: VaultError.self) { try await call() }
            #expect(error?.code == .invalidKeyContext)
            #expect(error?.message.contains("org_next") == false && error?.message.contains("zz") == false)
        }
        #expect(server.requests.isEmpty)
    }
}
