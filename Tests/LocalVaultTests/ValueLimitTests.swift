import Foundation
import Testing
import VaultAPI

@testable import LocalVault

/// One limit on object values (``LocalVault/maxValueSize``), enforced by the engine for the
/// embedded store and `vault serve` alike, with a typed 413 error that names the limit.
@Suite("object values are at most maxValueSize bytes")
struct ValueLimitTests {
    static let env = LocalVault.defaultEnvironmentID

    @Test("create and update accept the limit and refuse one byte more", arguments: TestBackend.allCases)
    func limit(backend: TestBackend) async throws {
        let store = try await TemporaryVault(backend)
        let vault = store.vault
        // Counted in bytes of UTF-8: two-byte characters reach the limit at half as many characters.
        let largest = String(repeating: "é", count: LocalVault.maxValueSize / 2)
        let created = try await vault.createObject(name: "largest", value: largest, context: ["a": "1"], caller: .alice)
        #expect(try await vault.readObject(id: created.id, environmentID: Self.env).value == largest)

        let tooLarge = largest + "x"
        let refused = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.createObject(name: "too-large", value: tooLarge, context: ["a": "1"], caller: .alice)
        }
        #expect(refused?.kind == .contentTooLarge)
        #expect(refused?.httpStatus == 413)
        #expect(refused?.code == "payload_too_large")
        #expect(refused?.message.contains("\(LocalVault.maxValueSize) bytes") == true)
        await #expect(throws: LocalVaultError.objectNotFound) {
            _ = try await vault.readObject(named: "too-large", environmentID: Self.env)
        }

        let update = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.updateObject(id: created.id, value: tooLarge, versionCheck: nil, caller: .alice)
        }
        #expect(update?.kind == .contentTooLarge)
        #expect(try await vault.readObject(id: created.id, environmentID: Self.env).value == largest)
    }
}
