import Foundation
import Testing

@testable import EnvelopeCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files sealed and opened a chunk at a time: byte for byte the in-memory blobs, both ways, at
/// sizes around the chunk boundary; nothing released or left behind when a blob does not verify.
@Suite struct StreamedBlobTests {
    static let chunk = streamChunkCount
    static let sizes = [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 17]
    static let encryptedKeys = KeysBlobPrefix.localVault + [UInt8](repeating: 0xA5, count: 40)

    /// A fresh folder, removed when `body` returns.
    func withFolder<Result>(_ body: (String) throws -> Result) throws -> Result {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("streamed-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try body(folder)
    }

    static func random(_ count: Int) -> [UInt8] {
        let random = FileHandle(forReadingAtPath: "/dev/urandom")!
        defer { try? random.close() }
        return [UInt8](random.readData(ofLength: count))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func bytes(at path: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func contents(of folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    }

    /// Streams `plaintext` through ``BlobStream`` with a fixed IV, from one file to another.
    static func streamSeal(
        _ plaintext: [UInt8],
        key: DataKey,
        layout: BlobLayout,
        iv: [UInt8],
        associatedData: [UInt8],
        base64: Bool = false,
        in folder: String
    ) throws -> [UInt8] {
        try write(plaintext, to: folder + "/plain")
        let input = open(folder + "/plain", O_RDONLY)
        defer { close(input) }
        try PrivateFile.replace(folder + "/blob") { (output) throws(EnvelopeCryptoError) in
            let sink = DescriptorSink(descriptor: output)
            try associatedData.withBytes { (associatedData) throws(EnvelopeCryptoError) in
                try BlobStream.seal(
                    from: DescriptorSource(descriptor: input),
                    to: base64 ? Base64Sink(sink, lineEnding: true) : sink,
                    with: key,
                    encryptedKeys: encryptedKeys,
                    associatedData: associatedData,
                    layout: layout,
                    fixedIV: iv
                )
            }
        }
        return try bytes(at: folder + "/blob")
    }

    @Test(arguments: [BlobLayout.a, .b])
    func streamedBlobsAreTheInMemoryBlobsByteForByte(layout: BlobLayout) throws {
        let key = try DataKey.generate()
        let iv = Self.random(12)
        for size in Self.sizes {
            let plaintext = Self.random(size)
            let associatedData = size % 2 == 0 ? [] : Array("user_456".utf8)
            let expected = try EnvelopeBlob.seal(
                plaintext,
                with: key,
                encryptedKeys: Self.encryptedKeys,
                associatedData: associatedData,
                layout: layout,
                fixedIV: iv
            )
            try withFolder { folder in
                let streamed = try Self.streamSeal(
                    plaintext,
                    key: key,
                    layout: layout,
                    iv: iv,
                    associatedData: associatedData,
                    in: folder
                )
                #expect(streamed == expected.bytes, "size \(size)")
                let text = try Self.streamSeal(
                    plaintext,
                    key: key,
                    layout: layout,
                    iv: iv,
                    associatedData: associatedData,
                    base64: true,
                    in: folder
                )
                #expect(text == Array((expected.base64EncodedString() + "\n").utf8), "base64, size \(size)")
            }
        }
    }

    @Test(arguments: [BlobLayout.a, .b])
    func filesSealedByTheFileAPIOpenInMemoryAndBack(layout: BlobLayout) throws {
        let key = try DataKey.generate()
        for size in Self.sizes {
            let plaintext = Self.random(size)
            try withFolder { folder in
                try Self.write(plaintext, to: folder + "/plain")
                var reports: [FileProgress] = []
                try EnvelopeBlob.seal(
                    fileAt: folder + "/plain",
                    to: folder + "/blob",
                    with: key,
                    encryptedKeys: Self.encryptedKeys,
                    associatedData: Array("aad".utf8),
                    layout: layout
                ) { reports.append($0) }
                #expect(reports.last == FileProgress(completedBytes: size, totalBytes: size))
                let blob = try EnvelopeBlob(parsing: try Self.bytes(at: folder + "/blob"))
                #expect(blob.layout == layout)
                #expect(try blob.open(with: key, associatedData: Array("aad".utf8)) == plaintext, "size \(size)")

                let inMemory = try EnvelopeBlob.seal(
                    plaintext,
                    with: key,
                    encryptedKeys: Self.encryptedKeys,
                    associatedData: nil,
                    layout: layout
                )
                try Self.write(inMemory.bytes, to: folder + "/memory.blob")
                let file = try EnvelopeBlobFile(contentsOf: folder + "/memory.blob")
                #expect(file.layout == layout)
                #expect(file.encryptedKeys == Self.encryptedKeys)
                try file.open(to: folder + "/out", with: key)
                #expect(try Self.bytes(at: folder + "/out") == plaintext, "size \(size)")
                var status = stat()
                #expect(lstat(folder + "/out", &status) == 0 && status.st_mode & 0o777 == 0o600)
                #expect(try Self.contents(of: folder) == ["blob", "memory.blob", "out", "plain"])
            }
        }
    }

    @Test func theFormatVectorsOpenFromFiles() throws {
        for vector in FormatVectorTests.vectors {
            let key = try DataKey(base64Encoded: vector.data_key)
            for text in [vector.blob_format_a, vector.blob_format_b] {
                try withFolder { folder in
                    try Self.write([UInt8](base64: text), to: folder + "/blob")
                    try EnvelopeBlob.open(
                        fileAt: folder + "/blob",
                        to: folder + "/out",
                        with: key,
                        associatedData: vector.associated_data.map { Array($0.utf8) }
                    )
                    #expect(try Self.bytes(at: folder + "/out") == Array(vector.plaintext.utf8))
                }
            }
        }
    }

    /// Every way a blob can be altered: the error is typed, and neither the destination nor a
    /// temporary file exists afterwards (an existing destination is left as it was).
    @Test(arguments: [BlobLayout.a, .b])
    func alteredBlobsReleaseNothingAndLeaveNothing(layout: BlobLayout) throws {
        let key = try DataKey.generate()
        let plaintext = Self.random(2 * Self.chunk + 3)
        let blob = try EnvelopeBlob.seal(plaintext, with: key, encryptedKeys: Self.encryptedKeys, layout: layout).bytes
        let tagOffset = layout == .a ? 12 : blob.count - 1
        let ciphertextOffset = layout == .a ? blob.count - 5 : blob.count - 40
        var flippedTag = blob
        flippedTag[tagOffset] ^= 1
        var flippedCiphertext = blob
        flippedCiphertext[ciphertextOffset] ^= 0x80
        let cases: [(String, [UInt8], [UInt8]?)] = [
            ("tag", flippedTag, nil),
            ("ciphertext", flippedCiphertext, nil),
            ("truncated", Array(blob.dropLast()), nil),
            ("extended", blob + [0], nil),
            ("wrong associated data", blob, Array("other".utf8)),
        ]
        for (name, altered, associatedData) in cases {
            try withFolder { folder in
                try Self.write(altered, to: folder + "/blob")
                #expect(throws: EnvelopeCryptoError.authenticationFailed, "\(name)") {
                    try EnvelopeBlob.open(
                        fileAt: folder + "/blob",
                        to: folder + "/out",
                        with: key,
                        associatedData: associatedData,
                        layout: layout
                    )
                }
                #expect(try Self.contents(of: folder) == ["blob"], "\(name)")
                try Self.write(Array("old".utf8), to: folder + "/existing")
                #expect(throws: EnvelopeCryptoError.authenticationFailed, "\(name)") {
                    try EnvelopeBlob.open(
                        fileAt: folder + "/blob",
                        to: folder + "/existing",
                        with: key,
                        associatedData: associatedData,
                        layout: layout
                    )
                }
                #expect(try Self.bytes(at: folder + "/existing") == Array("old".utf8), "\(name)")
                #expect(try Self.contents(of: folder) == ["blob", "existing"], "\(name)")
            }
        }
        try withFolder { folder in
            try Self.write(Array(blob.prefix(20)), to: folder + "/blob")
            #expect(throws: EnvelopeCryptoError.malformedBlob) {
                try EnvelopeBlob.open(fileAt: folder + "/blob", to: folder + "/out", with: key)
            }
            #expect(try Self.contents(of: folder) == ["blob"])
        }
    }

    /// To a pipe, plaintext is held (past 1 MiB in an unlinked temporary file) and written only
    /// after the tag verifies.
    @Test func aPipeGetsPlaintextOnlyAfterVerification() throws {
        let key = try DataKey.generate()
        let plaintext = Self.random(3 * Self.chunk)
        var blob = try EnvelopeBlob.seal(plaintext, with: key, encryptedKeys: Self.encryptedKeys, layout: .b).bytes
        blob[blob.count - 1] ^= 1
        try withFolder { folder in
            try Self.write(blob, to: folder + "/blob")
            var ends: [Int32] = [0, 0]
            try #require(pipe(&ends) == 0)
            defer { close(ends[0]) }
            // Non-blocking: a write of 3 MiB would fail here rather than wait for a reader.
            try #require(fcntl(ends[1], F_SETFL, O_NONBLOCK) == 0)
            #expect(throws: EnvelopeCryptoError.authenticationFailed) {
                let file = try EnvelopeBlobFile(contentsOf: folder + "/blob")
                try FileDestination.writeThrough(ends[1], holdUntilDone: true) { (sink) throws(EnvelopeCryptoError) in
                    try file.openRaw(with: key, to: sink)
                }
            }
            close(ends[1])
            var byte: UInt8 = 0
            #expect(read(ends[0], &byte, 1) == 0, "plaintext reached the pipe before the tag was checked")
        }
    }

    @Test func aFileOverTheGCMLimitIsRefusedBeforeAnyWork() throws {
        let key = try DataKey.generate()
        try withFolder { folder in
            let descriptor = open(folder + "/huge", O_WRONLY | O_CREAT, 0o600)
            try #require(descriptor >= 0)
            // Sparse: the size is what counts, no blocks are written.
            try #require(ftruncate(descriptor, off_t(BlobStream.maxPlaintextCount + 1)) == 0)
            close(descriptor)
            #expect(throws: EnvelopeCryptoError.plaintextTooLong) {
                try EnvelopeBlob.seal(
                    fileAt: folder + "/huge",
                    to: folder + "/blob",
                    with: key,
                    encryptedKeys: Self.encryptedKeys
                )
            }
            #expect(try Self.contents(of: folder) == ["huge"])
            #expect(throws: EnvelopeCryptoError.plaintextTooLong) {
                try FileDestination.checkSealable(fileAt: folder + "/huge")
            }
        }
    }

    /// A new FIFO at `path`, and its read end: opened read-write and non-blocking, so that opening
    /// it for writing does not wait for a reader.
    static func makeFIFO(_ path: String) throws -> Int32 {
        try #require(mkfifo(path, 0o600) == 0)
        let reader = open(path, O_RDWR | O_NONBLOCK)
        try #require(reader >= 0)
        return reader
    }

    /// The blob waiting in a FIFO (a small one: one read takes it all).
    static func blobInFIFO(_ reader: Int32) throws -> EnvelopeBlob {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(reader, &buffer, buffer.count)
        try #require(count > 0)
        return try EnvelopeBlob(parsing: Array(buffer[..<count]))
    }

    @Test func layoutANeedsASeekableOutputWhileLayoutBStreamsToAFIFO() throws {
        let key = try DataKey.generate()
        let plaintext = Self.random(1000)
        try withFolder { folder in
            try Self.write(plaintext, to: folder + "/plain")
            let reader = try Self.makeFIFO(folder + "/fifo")
            defer { close(reader) }
            #expect(throws: EnvelopeCryptoError.outputNotSeekable) {
                try EnvelopeBlob.seal(
                    fileAt: folder + "/plain",
                    to: folder + "/fifo",
                    with: key,
                    encryptedKeys: Self.encryptedKeys
                )
            }
            var leaked: UInt8 = 0
            #expect(read(reader, &leaked, 1) == -1, "layout A wrote to the pipe")
            try EnvelopeBlob.seal(
                fileAt: folder + "/plain",
                to: folder + "/fifo",
                with: key,
                encryptedKeys: Self.encryptedKeys,
                layout: .b
            )
            #expect(try Self.blobInFIFO(reader).open(with: key) == plaintext)
        }
    }

    /// A link to a FIFO or device (as `/dev/stdout` is) is written through; a link to anything
    /// else is replaced by the output, its target untouched.
    @Test func symbolicLinksAreFollowedOnlyToPipesAndDevices() throws {
        let key = try DataKey.generate()
        let plaintext = Self.random(100)
        try withFolder { folder in
            try Self.write(plaintext, to: folder + "/plain")
            let reader = try Self.makeFIFO(folder + "/fifo")
            defer { close(reader) }
            try FileManager.default.createSymbolicLink(
                atPath: folder + "/to-fifo",
                withDestinationPath: folder + "/fifo"
            )
            try EnvelopeBlob.seal(
                fileAt: folder + "/plain",
                to: folder + "/to-fifo",
                with: key,
                encryptedKeys: Self.encryptedKeys,
                layout: .b
            )
            #expect(try Self.blobInFIFO(reader).open(with: key) == plaintext)

            try Self.write(Array("target".utf8), to: folder + "/target")
            try FileManager.default.createSymbolicLink(
                atPath: folder + "/to-file",
                withDestinationPath: folder + "/target"
            )
            try EnvelopeBlob.seal(
                fileAt: folder + "/plain",
                to: folder + "/to-file",
                with: key,
                encryptedKeys: Self.encryptedKeys
            )
            #expect(try Self.bytes(at: folder + "/target") == Array("target".utf8))
            #expect(try EnvelopeBlob(parsing: try Self.bytes(at: folder + "/to-file")).open(with: key) == plaintext)
            var status = stat()
            #expect(lstat(folder + "/to-file", &status) == 0 && status.st_mode & S_IFMT == S_IFREG)
        }
    }

    @Test func base64TextIsReadWithSurroundingWhitespaceOnly() throws {
        let key = try DataKey.generate()
        let plaintext = Self.random(Self.chunk + 5)
        let text = try EnvelopeBlob.seal(plaintext, with: key, encryptedKeys: Self.encryptedKeys).base64EncodedString()
        let valid = ["\n \(text)\r\n\n", text]
        let invalid = [
            String(text.prefix(100)) + "\n" + String(text.dropFirst(100)),
            String(text.dropLast(4)) + "=" + String(text.suffix(3)),
            String(text.dropLast(1)),
            text + "\nAAAA",
        ]
        for (input, expected) in valid.map({ ($0, true) }) + invalid.map({ ($0, false) }) {
            try withFolder { folder in
                try Self.write(Array(input.utf8), to: folder + "/text")
                let descriptor = open(folder + "/text", O_RDONLY)
                defer { close(descriptor) }
                let sink = SpillSink()
                var failed = false
                do {
                    let source = Base64Source(DescriptorSource(descriptor: descriptor))
                    let reader = try BlobStreamReader(source: source)
                    try reader.open(with: key, associatedData: UnsafeRawBufferPointer(start: nil, count: 0), to: sink)
                } catch {
                    failed = true
                }
                #expect(failed != expected, "\(input.prefix(8))…, valid: \(expected)")
            }
        }
    }
}

extension EnvelopeBlobFile {
    /// The streamed open into any sink, for tests of where plaintext goes.
    func openRaw(with key: DataKey, to sink: any StreamSink) throws(EnvelopeCryptoError) {
        try reader.open(with: key, associatedData: UnsafeRawBufferPointer(start: nil, count: 0), to: sink)
    }
}
