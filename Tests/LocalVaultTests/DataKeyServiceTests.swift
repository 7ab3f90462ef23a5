import EnvelopeCrypto
import Foundation
import LocalVault
import Testing
import VaultAPI

@Suite struct DataKeyServiceTests {
    let env = LocalVault.defaultEnvironmentID

    @Test(arguments: TestBackend.allCases)
    func aDataKeyDecryptsBackToItselfAndRekeyKeepsTheKey(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let issued = try await vault.createDataKey(
            context: ["organization_id": "org_1", "region": "eu"],
            environmentID: env
        )
        #expect(issued.encryptedKeys.starts(with: KeysBlobPrefix.localVault))
        let unwrapped = try await vault.decryptDataKey(encryptedKeys: issued.encryptedKeys, environmentID: env)
        #expect(unwrapped.key == issued.key)
        #expect(unwrapped.id == issued.id)

        let rekeyed = try await vault.rekey(
            encryptedKeys: issued.encryptedKeys,
            context: ["organization_id": "org_2"],
            environmentID: env
        )
        #expect(rekeyed.key == issued.key)
        #expect(rekeyed.id == issued.id)
        #expect(rekeyed.encryptedKeys != issued.encryptedKeys)
        #expect(
            try await vault.decryptDataKey(encryptedKeys: rekeyed.encryptedKeys, environmentID: env).key == issued.key
        )
    }

    @Test(arguments: TestBackend.allCases)
    func everyDataKeyIsFresh(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let context: KeyContext = ["organization_id": "org_1"]
        let first = try await temporary.vault.createDataKey(context: context, environmentID: env)
        let second = try await temporary.vault.createDataKey(context: context, environmentID: env)
        #expect(first.key != second.key)
        #expect(first.id != second.id)
    }

    @Test(arguments: TestBackend.allCases)
    func keysSurviveARestart(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let issued = try await temporary.vault.createDataKey(context: ["organization_id": "org_1"], environmentID: env)
        try await temporary.reopen()
        #expect(
            try await temporary.vault.decryptDataKey(encryptedKeys: issued.encryptedKeys, environmentID: env).key
                == issued.key
        )
    }

    @Test(arguments: TestBackend.allCases)
    func anotherEnvironmentCannotUnwrap(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let issued = try await temporary.vault.createDataKey(context: ["organization_id": "org_1"], environmentID: env)
        let error = await #expect(throws: LocalVaultError.self) {
            _ = try await temporary.vault.decryptDataKey(
                encryptedKeys: issued.encryptedKeys,
                environmentID: "environment_other"
            )
        }
        #expect(error?.httpStatus == 400)
    }

    @Test(arguments: TestBackend.allCases)
    func tamperedTruncatedOrForeignKeysAreA400(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let issued = try await temporary.vault.createDataKey(context: ["a": "1", "b": "2"], environmentID: env)
        var candidates: [[UInt8]] = [
            [], Array("WOS.EKM.v1\0".utf8) + [1, 2, 3], Array(issued.encryptedKeys.dropLast()),
        ]
        for index in stride(from: 0, to: issued.encryptedKeys.count, by: 7) {
            var tampered = issued.encryptedKeys
            tampered[index] ^= 0x01
            candidates.append(tampered)
        }
        for candidate in candidates {
            do {
                let unwrapped = try await temporary.vault.decryptDataKey(encryptedKeys: candidate, environmentID: env)
                // Flipping a bit of one entry still leaves the other entry, which opens: never another key.
                #expect(unwrapped.key == issued.key)
            } catch let error as LocalVaultError {
                #expect(error.httpStatus == 400)
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func concurrentFirstUsesOfAPairCreateOneKEK(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let vault = temporary.vault
        let blobs = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<32 {
                group.addTask {
                    try await vault.createDataKey(context: ["organization_id": "org_race"], environmentID: env)
                        .encryptedKeys
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // A second vault on the same store (another process, in effect) sees the same single KEK.
        let other = try await temporary.openAnother()
        for blob in blobs {
            _ = try await other.decryptDataKey(encryptedKeys: blob, environmentID: env)
        }
        let kekIDs = Set(try blobs.map { try Self.kekIDs(in: $0) }.flatMap { $0 })
        #expect(kekIDs.count == 1)
    }

    /// The KEK ids named in a LocalVault keys blob (the format is documented in KeysBlob.swift).
    static func kekIDs(in blob: [UInt8]) throws -> [String] {
        var offset = KeysBlobPrefix.localVault.count + 1 + 16
        let count = Int(blob[offset])
        offset += 1
        var ids: [String] = []
        for _ in 0..<count {
            offset += 1  // kind
            let idLength = Int(blob[offset])
            offset += 1
            ids.append(String(decoding: blob[offset..<offset + idLength], as: UTF8.self))
            offset += idLength
            let keyLength = Int(blob[offset])
            offset += 1 + keyLength
        }
        return ids
    }

    @Test(
        arguments: TestBackend.allCases,
        [
            ([:], "at least 1 pair"),
            (Dictionary(uniqueKeysWithValues: (0..<11).map { ("k\($0)", "v") }), "at most 10"),
            (["": "v"], "1 to 120 characters"),
            ([String(repeating: "k", count: 121): "v"], "1 to 120 characters"),
            (["k": ""], "1 to 500 characters"),
            (["k": String(repeating: "v", count: 501)], "1 to 500 characters"),
        ] as [(pairs: [String: String], rule: String)]
    )
    func invalidContextsAreRejectedNamingTheRule(
        backend: TestBackend,
        example: (pairs: [String: String], rule: String)
    ) async throws {
        let temporary = try await TemporaryVault(backend)
        do {
            _ = try await temporary.vault.createDataKey(context: KeyContext(example.pairs), environmentID: env)
            Issue.record("an invalid context was accepted")
        } catch let error as LocalVaultError {
            #expect(error.httpStatus == 422)
            #expect(error.message.contains(example.rule))
        }
    }

    @Test(arguments: TestBackend.allCases)
    func limitsAreInclusive(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        let pairs = Dictionary(
            uniqueKeysWithValues: (0..<10).map {
                ("k\($0)" + String(repeating: "k", count: 117), String(repeating: "v", count: 500))
            }
        )
        let issued = try await temporary.vault.createDataKey(context: KeyContext(pairs), environmentID: env)
        #expect(try Self.kekIDs(in: issued.encryptedKeys).count == 10)
    }

    @Test func theRootKeyFileIsPrivateAndStable() async throws {
        let temporary = try await TemporaryVault(.sqlite)
        let attributes = try FileManager.default.attributesOfItem(atPath: temporary.directory + "/root.key")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect((attributes[.size] as? NSNumber)?.intValue == 32)
        let before = try Data(contentsOf: URL(fileURLWithPath: temporary.directory + "/root.key"))
        try await temporary.reopen()
        #expect(try Data(contentsOf: URL(fileURLWithPath: temporary.directory + "/root.key")) == before)
    }

    @Test(arguments: TestBackend.allCases)
    func aWrongRootKeyCannotOpenTheKEKs(backend: TestBackend) async throws {
        let temporary = try await TemporaryVault(backend)
        _ = try await temporary.vault.createDataKey(context: ["organization_id": "org_1"], environmentID: env)
        // The store refuses the wrong root key when it opens (RootKeyCheckTests has the details).
        await #expect(throws: LocalVaultError.self) {
            try await temporary.openAnother(rootKey: .base64(try DataKey.generate().base64EncodedString()))
        }
    }
}
