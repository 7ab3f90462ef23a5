import EnvelopeCrypto
import Foundation
import Synchronization
import Testing
import VaultAPI
import WorkOSVault

/// `Vault.encrypt(fileAt:)` / `decrypt(fileAt:)` on the embedded store: the files are ordinary
/// blobs that the in-memory calls read and write, and failures leave nothing.
@Suite struct FileEncryptionTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vault-files-\(UUID().uuidString)")

    func makeVault() throws -> Vault {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try Vault(
            configuration: VaultConfiguration(
                backend: .embedded(dataDirectory: directory.appendingPathComponent("store").path)
            )
        )
    }

    func file(_ name: String) -> URL { directory.appendingPathComponent(name) }

    @Test(arguments: [BlobLayout.a, .b])
    func filesAndInMemoryBlobsReadEachOther(layout: BlobLayout) async throws {
        let vault = try makeVault()
        defer { try? FileManager.default.removeItem(at: directory) }
        let plaintext = (0..<(1 << 20) + 3).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Data(plaintext).write(to: file("plain"))
        let context: KeyContext = ["organization_id": "org_1"]
        let aad = Array("user_456".utf8)

        let reports = Mutex<[FileProgress]>([])
        try await vault.encrypt(
            fileAt: file("plain"),
            to: file("blob"),
            context: context,
            associatedData: aad,
            layout: layout
        ) { progress in reports.withLock { $0.append(progress) } }
        #expect(
            reports.withLock { $0.last } == FileProgress(completedBytes: plaintext.count, totalBytes: plaintext.count)
        )
        let blob = try [UInt8](Data(contentsOf: file("blob")))
        #expect(try EnvelopeBlob(parsing: blob).layout == layout)
        #expect(try await vault.decrypt(bytes: blob, associatedData: aad) == plaintext)

        let inMemory = try await vault.encrypt(bytes: plaintext, context: context, associatedData: aad, layout: layout)
        try Data(inMemory.bytes).write(to: file("memory.blob"))
        try await vault.decrypt(fileAt: file("memory.blob"), to: file("out"), associatedData: aad)
        #expect(try [UInt8](Data(contentsOf: file("out"))) == plaintext)

        await #expect(throws: VaultError(.decryptionFailed, "")) {
            try await vault.decrypt(fileAt: file("memory.blob"), to: file("wrong"), associatedData: Array("other".utf8))
        }
        #expect(!FileManager.default.fileExists(atPath: file("wrong").path))
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names == ["blob", "memory.blob", "out", "plain", "store"])
    }

    @Test func missingFilesAndBadURLsAreTypedErrors() async throws {
        let vault = try makeVault()
        defer { try? FileManager.default.removeItem(at: directory) }
        await #expect(throws: VaultError(.fileAccess, "")) {
            try await vault.encrypt(fileAt: file("missing"), to: file("blob"), context: ["o": "1"])
        }
        await #expect(throws: VaultError(.fileAccess, "")) {
            try await vault.decrypt(fileAt: file("missing"), to: file("out"))
        }
        await #expect(throws: VaultError(.fileAccess, "")) {
            try await vault.encrypt(
                fileAt: URL(string: "https://example.com/x")!,
                to: file("blob"),
                context: ["o": "1"]
            )
        }
        try Data("not a blob".utf8).write(to: file("junk"))
        await #expect(throws: VaultError(.malformedBlob, "")) {
            try await vault.decrypt(fileAt: file("junk"), to: file("out"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["junk", "store"])
    }
}
