import EnvelopeCrypto
import Foundation
import GRDB
import Testing
import VaultAPI

@testable import LocalVault

/// The text rule: control characters (U+0000 to U+001F, U+007F, U+0080 to U+009F) are refused in
/// object names, context keys and context values with a 422 naming the rule; lookups by text that
/// holds one find nothing, and nothing is ever matched cut at a NUL.
@Suite("Text rules")
struct TextRuleTests {
    static let env = LocalVault.defaultEnvironmentID
    static let controls = ["\u{0}", "\u{1}", "\n", "\u{1F}", "\u{7F}", "\u{80}", "\u{85}", "\u{9F}"]

    @Test("the control characters are exactly U+0000 to U+001F, U+007F and U+0080 to U+009F")
    func controlCharacterBoundaries() {
        for scalar in (0...0x2FF).compactMap(Unicode.Scalar.init) + ["\u{FFFD}", "\u{200F}", "\u{10FFFF}", "𠜎"] {
            let expected = scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
            #expect(ControlCharacters.occur(in: "a\(scalar)b") == expected, "U+\(String(scalar.value, radix: 16))")
            #expect(ControlCharacters.occur(in: String(scalar)) == expected)
        }
        #expect(!ControlCharacters.occur(in: ""))
        #expect(!ControlCharacters.occur(in: "\u{C2}\u{A0}"))
    }

    @Test(
        "a NUL in a context value or key is refused, and the clean context keeps working",
        arguments: TestBackend.allCases
    )
    func nulInContext(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        for context: KeyContext in [["organization_id": "org_next\u{0}"], ["organization_id\u{0}zz": "org_next"]] {
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await vault.createDataKey(context: context, environmentID: Self.env)
            }
            #expect(error?.httpStatus == 422 && error?.rule == .keyContext)
            #expect(error?.message.contains("control characters") == true, "\(String(describing: error))")
            #expect(error?.message.contains("org_next") == false && error?.message.contains("zz") == false)
        }
        let clean = try await vault.createDataKey(context: ["organization_id": "org_next"], environmentID: Self.env)
        let opened = try await vault.decryptDataKey(encryptedKeys: clean.encryptedKeys, environmentID: Self.env)
        #expect(opened.key == clean.key)
        try await temporary.reopen()
        let again = try await temporary.vault.decryptDataKey(
            encryptedKeys: clean.encryptedKeys,
            environmentID: Self.env
        )
        #expect(again.key == clean.key)
    }

    @Test("every control character is refused in names, keys and values", arguments: TestBackend.allCases, controls)
    func controlCharacters(backend: TestBackend, control: String) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        for context: KeyContext in [["k": "v\(control)"], ["k\(control)": "v"], ["\(control)": "v"]] {
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await vault.createDataKey(context: context, environmentID: Self.env)
            }
            #expect(error?.httpStatus == 422 && error?.rule == .keyContext)
        }
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.createObject(name: "stripe\(control)x", value: "v", context: ["k": "v"], caller: .alice)
        }
        #expect(error?.httpStatus == 422)
        #expect(error?.message.contains("control characters") == true)
        #expect(error?.message.contains("stripe") == false)
        await #expect(throws: LocalVaultError.objectNotFound) {
            _ = try await vault.readObject(named: "stripe", environmentID: Self.env)
        }
    }

    @Test("ids, names, cursors and searches holding control characters match nothing", arguments: TestBackend.allCases)
    func lookups(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let first = try await vault.createObject(name: "stripe", value: "v", context: ["k": "v"], caller: .alice)
        _ = try await vault.createObject(name: "second", value: "v", context: ["k": "v"], caller: .alice)
        let id = first.id
        for text in ["\(id)\u{0}junk", "\(id)\u{0}", "\(id)\n"] {
            await #expect(throws: LocalVaultError.objectNotFound) {
                _ = try await vault.readObject(id: text, environmentID: Self.env)
            }
            await #expect(throws: LocalVaultError.objectNotFound) {
                _ = try await vault.describeObject(id: text, environmentID: Self.env)
            }
            await #expect(throws: LocalVaultError.objectNotFound) {
                _ = try await vault.listVersions(id: text, environmentID: Self.env)
            }
            await #expect(throws: LocalVaultError.objectNotFound) {
                _ = try await vault.updateObject(id: text, value: "x", versionCheck: nil, caller: .alice)
            }
            await #expect(throws: LocalVaultError.objectNotFound) {
                _ = try await vault.deleteObject(id: text, versionCheck: nil, environmentID: Self.env)
            }
            var query = ListObjectsQuery()
            query.after = text
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await vault.listObjects(query, environmentID: Self.env)
            }
            #expect(error?.httpStatus == 422 && error?.message.contains("cursor") == true)
        }
        await #expect(throws: LocalVaultError.objectNotFound) {
            _ = try await vault.readObject(named: "stripe\u{0}x", environmentID: Self.env)
        }
        var search = ListObjectsQuery()
        search.search = "str\u{0}"
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.listObjects(search, environmentID: Self.env)
        }
        #expect(error?.httpStatus == 422 && error?.message.contains("control characters") == true)
        // A version_check holding a NUL never names the current version.
        let current = try #require(first.versionID)
        await #expect(throws: LocalVault.versionConflict) {
            _ = try await vault.updateObject(id: id, value: "x", versionCheck: current + "\u{0}", caller: .alice)
        }
        let idempotency = await #expect(throws: LocalVaultError.self) {
            _ = try await vault.claimIdempotencyKey(scope: "s", key: "k\u{0}x", requestHash: "h", durable: false)
        }
        #expect(idempotency?.httpStatus == 400)
        // Nothing was changed or deleted through a cut id.
        #expect(try await vault.readObject(id: id, environmentID: Self.env).value == "v")
        #expect(try await vault.listVersions(id: id, environmentID: Self.env).data.count == 1)
    }

    @Test("names and contexts have byte caps next to their character limits", arguments: TestBackend.allCases)
    func byteCaps(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        // 200 characters, each an "e" with four combining marks: 1,800 bytes.
        let heavy = String(repeating: "e\u{301}\u{302}\u{303}\u{304}", count: 200)
        #expect(heavy.count == 200)
        // 200 characters and 801 bytes: just past the cap.
        let justOver = String(repeating: "𠜎", count: 199) + "e\u{301}\u{301}"
        #expect(justOver.count == 200 && justOver.utf8.count == ObjectName.maxByteCount + 1)
        for name in [heavy, justOver] {
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await vault.createObject(name: name, value: "v", context: ["k": "v"], caller: .alice)
            }
            #expect(error?.httpStatus == 422)
            #expect(error?.message.contains("at most \(ObjectName.maxByteCount) bytes") == true)
        }
        let atCap = String(repeating: "𠜎", count: 200)
        _ = try await vault.createObject(name: atCap, value: "v", context: ["k": "v"], caller: .alice)

        let heavyKey = String(repeating: "e\u{301}\u{302}\u{303}\u{304}", count: KeyContext.maxKeyLength)
        let heavyValue = String(repeating: "e\u{301}\u{302}\u{303}\u{304}", count: KeyContext.maxValueLength)
        for (context, rule) in [
            (KeyContext([heavyKey: "v"]), "at most \(KeyContext.maxKeyByteCount) bytes"),
            (KeyContext(["k": heavyValue]), "at most \(KeyContext.maxValueByteCount) bytes"),
        ] {
            let error = await #expect(throws: LocalVaultError.self) {
                _ = try await vault.createDataKey(context: context, environmentID: Self.env)
            }
            #expect(error?.httpStatus == 422 && error?.message.contains(rule) == true)
        }
        let longest = KeyContext([
            String(repeating: "𠜎", count: KeyContext.maxKeyLength): String(
                repeating: "𠜎",
                count: KeyContext.maxValueLength
            )
        ])
        _ = try await vault.createDataKey(context: longest, environmentID: Self.env)
    }

    @Test("key-context errors name the rule and never quote the context")
    func contextErrorsDoNotEcho() throws {
        let marker = "ECHO_MARKER_KEY"
        for pairs in [
            [marker + String(repeating: "k", count: 200): "v"],
            [marker + "\u{0}": "v"],
            [marker: ""],
            [marker: "ECHO_MARKER_VALUE\u{7F}"],
            [marker: String(repeating: "v", count: 501)],
        ] {
            let error = #expect(throws: KeyContextError.self) { try KeyContext(pairs).validate() }
            let text = error.map { "\($0)" } ?? ""
            #expect(!text.isEmpty && !text.contains("ECHO_MARKER"), "\(text)")
        }
        let decoded = #expect(throws: KeyContextError.self) {
            _ = try JSONDecoder().decode(KeyContext.self, from: Data(#"{"ECHO_MARKER_KEY": 5}"#.utf8))
        }
        #expect(decoded == .nonStringValue)
        #expect(!"\(decoded.map { "\($0)" } ?? "ECHO_MARKER")".contains("ECHO_MARKER"))
    }

    @Test("a crafted customer-key id in encrypted_keys is never quoted back", arguments: TestBackend.allCases)
    func customerKeyIDIsNotEchoed(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let crafted = KeysBlob(
            dataKeyID: UUID(),
            entries: [KeysBlob.Entry(kind: .customer, kekID: "ECHO_MARKER_cmk", wrappedKey: [1, 2, 3])]
        )
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await temporary.vault.decryptDataKey(encryptedKeys: crafted.encoded(), environmentID: Self.env)
        }
        #expect(error?.httpStatus == 403)
        #expect(error?.message.contains("ECHO_MARKER") == false, "\(String(describing: error))")
    }
}
