import Foundation
import Testing

@testable import EnvelopeCrypto

@Suite struct EnvelopeBlobTests {
    static let keys = Array("LVS.EKM.v1\0".utf8) + [UInt8](repeating: 0xAB, count: 40)

    @Test(arguments: [BlobLayout.a, .b])
    func theEmptyStringRoundTrips(layout: BlobLayout) throws {
        let key = try DataKey.generate()
        for aad in [nil, "", "user_456"] as [String?] {
            let blob = try EnvelopeBlob.seal(
                "",
                with: key,
                encryptedKeys: Self.keys,
                associatedData: aad,
                layout: layout
            )
            let reread = try EnvelopeBlob(base64Encoded: blob.base64EncodedString())
            #expect(reread.layout == layout)
            #expect(reread.ciphertextCount == 0)
            #expect(try reread.openString(with: key, associatedData: aad) == "")
        }
    }

    @Test(arguments: [BlobLayout.a, .b], [0, 1, 15, 16, 17, 64, 1024, 65_537])
    func bytesRoundTripAtManySizes(layout: BlobLayout, size: Int) throws {
        let key = try DataKey.generate()
        let plaintext = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let blob = try EnvelopeBlob.seal(plaintext, with: key, encryptedKeys: Self.keys, layout: layout)
        #expect(blob.bytes.count == 12 + 16 + 1 + Self.keys.count + size)
        let parsed = try EnvelopeBlob(parsing: blob.bytes)
        #expect(parsed == blob)
        #expect(parsed.encryptedKeys == Self.keys)
        #expect(try parsed.open(with: key) == plaintext)
    }

    @Test func noAssociatedDataAndEmptyAssociatedDataAreTheSame() throws {
        let key = try DataKey.generate()
        let blob = try EnvelopeBlob.seal([1, 2, 3], with: key, encryptedKeys: Self.keys, associatedData: nil)
        #expect(try blob.open(with: key, associatedData: []) == [1, 2, 3])
        #expect(try blob.openString(with: key, associatedData: "") == "\u{1}\u{2}\u{3}")
    }

    @Test func wrongKeyOrWrongAssociatedDataFailsAuthentication() throws {
        let key = try DataKey.generate()
        let blob = try EnvelopeBlob.seal("secret", with: key, encryptedKeys: Self.keys, associatedData: "org_1")
        #expect(throws: EnvelopeCryptoError.authenticationFailed) {
            try blob.openString(with: DataKey.generate(), associatedData: "org_1")
        }
        #expect(throws: EnvelopeCryptoError.authenticationFailed) {
            try blob.openString(with: key, associatedData: "org_2")
        }
        #expect(throws: EnvelopeCryptoError.authenticationFailed) { try blob.openString(with: key) }
    }

    @Test func invalidUTF8IsATypedErrorForTheStringAPI() throws {
        let key = try DataKey.generate()
        let blob = try EnvelopeBlob.seal([0xFF, 0xFE], with: key, encryptedKeys: Self.keys)
        #expect(throws: EnvelopeCryptoError.invalidUTF8) { try blob.openString(with: key) }
        #expect(try blob.open(with: key) == [0xFF, 0xFE])
    }

    @Test func theLegacyLayoutIsReadOnlyAndKeysAreBounded() throws {
        let key = try DataKey.generate()
        #expect(throws: EnvelopeCryptoError.unsupportedLayout) {
            try EnvelopeBlob.seal("x", with: key, encryptedKeys: Self.keys, layout: .legacyA)
        }
        #expect(throws: EnvelopeCryptoError.invalidEncryptedKeys) {
            try EnvelopeBlob.seal("x", with: key, encryptedKeys: [])
        }
        let tooLong = [UInt8](repeating: 1, count: EnvelopeBlob.maxEncryptedKeysCount + 1)
        #expect(throws: EnvelopeCryptoError.invalidEncryptedKeys) {
            try EnvelopeBlob.seal("x", with: key, encryptedKeys: tooLong)
        }
    }

    @Test func detectionPrefersAKnownPrefixThenATaggedPrefixThenLayoutA() throws {
        let key = try DataKey.generate()
        for layout in [BlobLayout.a, .b] {
            for keys in [Self.keys, Array("ACME.KEYS\0".utf8) + [1, 2, 3]] {
                for _ in 0..<200 {
                    let blob = try EnvelopeBlob.seal("payload", with: key, encryptedKeys: keys, layout: layout)
                    #expect(try EnvelopeBlob(parsing: blob.bytes).layout == layout)
                }
            }
        }
        // Opaque keys with no tag: a layout-A blob is read as A (the default) every time.
        for _ in 0..<200 {
            let blob = try EnvelopeBlob.seal("payload", with: key, encryptedKeys: [0xC3, 0x99, 0x10, 0xF0])
            #expect(try EnvelopeBlob(parsing: blob.bytes).layout == .a)
        }
    }

    @Test func sealedIVsAreUnique() throws {
        let key = try DataKey.generate()
        var seen = Set<[UInt8]>()
        for _ in 0..<20_000 {
            seen.insert(try EnvelopeBlob.seal([], with: key, encryptedKeys: [1]).iv)
        }
        #expect(seen.count == 20_000)
    }

    @Test func manyTasksSharingOneKeyAllRoundTrip() async throws {
        // Concurrent use of one key exercises both the key's own context and the one-off fallback.
        let key = try DataKey.generate()
        let failures = await withTaskGroup(of: Int.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var failures = 0
                    for index in 0..<2_000 {
                        let plaintext = "task \(task) message \(index)"
                        let blob = try? EnvelopeBlob.seal(
                            plaintext,
                            with: key,
                            encryptedKeys: Self.keys,
                            associatedData: "\(task)"
                        )
                        if (try? blob?.openString(with: key, associatedData: "\(task)")) != plaintext { failures += 1 }
                    }
                    return failures
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
    }

    @Test func descriptionShowsNoWrappedKeys() throws {
        let blob = try EnvelopeBlob.seal("x", with: DataKey.generate(), encryptedKeys: Self.keys)
        var dumped = ""
        dump(blob, to: &dumped)
        for text in [blob.description, dumped, String(reflecting: blob)] {
            #expect(!text.contains("171"))  // 0xAB, the filler byte of the wrapped keys
            #expect(text.contains("layout"))
        }
    }

    #if os(Linux)
    @Test func aForkedChildNeverReusesTheParentsPooledIVs() throws {
        _ = try EnvelopeBlob.seal([], with: DataKey.generate(), encryptedKeys: [1])  // fill this thread's pool
        #expect(!RandomIV.currentPoolIsStale)
        var pipe: [Int32] = [0, 0]
        #expect(Glibc.pipe(&pipe) == 0)
        let child = fork()
        if child == 0 {
            // In the child: only read memory and write one byte, nothing that could take a lock.
            var answer: UInt8 = RandomIV.currentPoolIsStale ? 1 : 0
            _ = write(pipe[1], &answer, 1)
            _exit(0)
        }
        #expect(child > 0)
        close(pipe[1])
        var answer: UInt8 = 0xFF
        #expect(read(pipe[0], &answer, 1) == 1)
        close(pipe[0])
        var status: Int32 = 0
        waitpid(child, &status, 0)
        #expect(answer == 1, "the child would have handed out IVs the parent also hands out")
        #expect(!RandomIV.currentPoolIsStale, "the parent's pool is unaffected")
    }
    #endif
}

@Suite struct RewrappingTests {
    @Test(arguments: [BlobLayout.a, .b], [BlobLayout.a, .b])
    func replacingTheWrappedKeysKeepsTheCiphertext(from: BlobLayout, to: BlobLayout) throws {
        let key = try DataKey.generate()
        let blob = try EnvelopeBlob.seal(
            "move me",
            with: key,
            encryptedKeys: [1, 2, 3],
            associatedData: "aad",
            layout: from
        )
        let newKeys = Array("LVS.EKM.v1\0".utf8) + [UInt8](repeating: 9, count: 200)
        let moved = try blob.replacingEncryptedKeys(newKeys, layout: to)
        #expect(moved.layout == to)
        #expect(moved.encryptedKeys == newKeys)
        #expect(moved.iv == blob.iv)
        #expect(moved.tag == blob.tag)
        #expect(try EnvelopeBlob(parsing: moved.bytes).layout == to)
        #expect(try moved.openString(with: key, associatedData: "aad") == "move me")
        #expect(throws: EnvelopeCryptoError.invalidEncryptedKeys) { try blob.replacingEncryptedKeys([]) }
    }
}
