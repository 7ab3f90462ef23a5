import Dispatch
import EnvelopeCrypto
import Foundation
import VaultAPI

extension Vault {
    /// Encrypts a file of any size into a blob file, streaming 1 MiB at a time under a fresh data
    /// key for `context`: memory stays flat whatever the file size.
    ///
    /// The blob is binary (not base64) and byte for byte what ``encrypt(bytes:context:associatedData:layout:)``
    /// returns for the file's bytes, so any official SDK reads it once base64-encoded, and
    /// ``decrypt(bytes:associatedData:layout:)`` reads it as is. `destination` is written as a new
    /// 0600 file in its folder, synced and renamed into place when complete; on failure nothing
    /// is left there. A FIFO or device there is written through, which only layout B allows (its
    /// tag comes last). The file work runs on a thread of its own, never on the caller's executor.
    /// - Parameters:
    ///   - source: a file URL.
    ///   - destination: a file URL.
    ///   - context: selects the KEKs; checked against the Vault rules before any request.
    ///   - associatedData: authenticated, not encrypted; must be given again to decrypt.
    ///   - layout: `.a` (default: ``defaultLayout``) or `.b`.
    ///   - progress: called after each chunk with the bytes of `source` read so far.
    /// - Throws: ``VaultError``: ``VaultError/Code-swift.struct/badRequest`` for a file longer than
    ///   AES-GCM allows (2^36 - 32 bytes, checked before any request) or layout A into a pipe,
    ///   ``VaultError/Code-swift.struct/fileAccess`` for a file that cannot be read or written.
    public func encrypt(
        fileAt source: URL,
        to destination: URL,
        context: KeyContext,
        associatedData: [UInt8]? = nil,
        layout: BlobLayout? = nil,
        progress: (@Sendable (FileProgress) -> Void)? = nil
    ) async throws {
        let (sourcePath, destinationPath) = try (Self.path(of: source), Self.path(of: destination))
        try validate(context)
        try await offloaded { try FileDestination.checkSealable(fileAt: sourcePath) }
        let dataKey = try await resolver.newDataKey(for: context, logger: logger)
        let layout = layout ?? defaultLayout
        try await offloaded {
            try EnvelopeBlob.seal(
                fileAt: sourcePath,
                to: destinationPath,
                with: dataKey.key,
                encryptedKeys: dataKey.encryptedKeys,
                associatedData: associatedData,
                layout: layout,
                progress: progress
            )
        }
    }

    /// Decrypts a blob file (binary, layout A, B or A') into `destination`, streaming: plaintext
    /// reaches `destination` only after the whole blob is authenticated.
    ///
    /// A regular file or new path gets a new 0600 file in its folder, synced and renamed into
    /// place only after the tag verifies; on any failure it is removed and `destination` is left
    /// as it was. A FIFO or device gets the plaintext only after verification, held until then in
    /// memory (up to 1 MiB) or an unlinked 0600 file in `$TMPDIR`. The file work runs on a thread
    /// of its own, never on the caller's executor.
    /// - Parameters:
    ///   - source: a file URL of the blob.
    ///   - destination: a file URL for the plaintext.
    ///   - associatedData: the associated data given when encrypting.
    ///   - layout: force a layout; `nil` detects it.
    ///   - progress: called after each chunk with the bytes of `source` read so far.
    /// - Throws: ``VaultError``: ``VaultError/Code-swift.struct/decryptionFailed`` for a wrong key,
    ///   wrong associated data or a changed or truncated file,
    ///   ``VaultError/Code-swift.struct/malformedBlob``, ``VaultError/Code-swift.struct/fileAccess``.
    public func decrypt(
        fileAt source: URL,
        to destination: URL,
        associatedData: [UInt8]? = nil,
        layout: BlobLayout? = nil,
        progress: (@Sendable (FileProgress) -> Void)? = nil
    ) async throws {
        let (sourcePath, destinationPath) = try (Self.path(of: source), Self.path(of: destination))
        // The header is read twice (for the wrapped keys, then to decrypt): a file changed in
        // between fails authentication, it cannot yield other plaintext.
        let encryptedKeys = try await offloaded {
            try EnvelopeBlobFile(contentsOf: sourcePath, layout: layout).encryptedKeys
        }
        let dataKey = try await resolver.dataKey(forEncryptedKeys: encryptedKeys, logger: logger)
        try await offloaded {
            try EnvelopeBlob.open(
                fileAt: sourcePath,
                to: destinationPath,
                with: dataKey.key,
                associatedData: associatedData,
                layout: layout,
                progress: progress
            )
        }
    }

    /// Runs blocking file work on ``fileQueue``, mapping crypto and file failures to ``VaultError``.
    private func offloaded<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            Self.fileQueue.async {
                continuation.resume(
                    with: Result {
                        do {
                            return try work()
                        } catch let error as EnvelopeCryptoError {
                            throw VaultError(error)
                        }
                    }
                )
            }
        }
    }

    /// Where file encryption and decryption run: threads of their own, so a large file never
    /// blocks the caller's executor.
    private static let fileQueue = DispatchQueue(label: "WorkOSVault.files", attributes: .concurrent)

    private static func path(of url: URL) throws -> String {
        guard url.isFileURL else {
            throw VaultError(.fileAccess, "give a file URL (file://), not \(url.scheme ?? "a relative URL")")
        }
        return url.path(percentEncoded: false)
    }
}
