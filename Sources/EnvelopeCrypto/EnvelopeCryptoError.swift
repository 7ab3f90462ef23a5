#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An error thrown by EnvelopeCrypto.
///
/// Errors compare equal when their ``code`` is equal, so callers and tests can match on the
/// static values (`EnvelopeCryptoError.malformedBlob`). A ``reason`` never holds key bytes,
/// plaintext or blob contents, and every blob-parsing failure reads exactly the same, so an error
/// message cannot be used as an oracle for where parsing stopped.
public struct EnvelopeCryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, as a value a caller can switch on. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Backing: String, Hashable, Sendable {
            case malformedBlob
            case authenticationFailed
            case invalidBase64
            case invalidKey
            case invalidEncryptedKeys
            case invalidUTF8
            case unsupportedLayout
            case libraryFailure
            case plaintextTooLong
            case outputNotSeekable
            case fileAccess
        }

        let backing: Backing

        /// The blob is not a well-formed envelope in the requested (or any detected) layout.
        public static let malformedBlob = Code(backing: .malformedBlob)
        /// The tag did not verify: wrong key, wrong associated data, or tampered bytes.
        public static let authenticationFailed = Code(backing: .authenticationFailed)
        /// The text is not strict standard base64 with padding.
        public static let invalidBase64 = Code(backing: .invalidBase64)
        /// Key material of the wrong length or encoding.
        public static let invalidKey = Code(backing: .invalidKey)
        /// The wrapped keys to embed are empty or longer than ``EnvelopeBlob/maxEncryptedKeysCount``.
        public static let invalidEncryptedKeys = Code(backing: .invalidEncryptedKeys)
        /// The plaintext is not valid UTF-8 and was asked for as a `String`.
        public static let invalidUTF8 = Code(backing: .invalidUTF8)
        /// The layout can be read but not written (``BlobLayout/legacyA``).
        public static let unsupportedLayout = Code(backing: .unsupportedLayout)
        /// libcrypto reported a failure that is not the caller's fault.
        public static let libraryFailure = Code(backing: .libraryFailure)
        /// The plaintext is longer than AES-GCM allows under one IV (2^36 - 32 bytes).
        public static let plaintextTooLong = Code(backing: .plaintextTooLong)
        /// Layout A writes its tag before the ciphertext, so it needs an output it can seek back in.
        public static let outputNotSeekable = Code(backing: .outputNotSeekable)
        /// A file could not be opened, read, written, synced or renamed.
        public static let fileAccess = Code(backing: .fileAccess)

        public var description: String { backing.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// A human-readable explanation. Never contains secrets or blob contents.
    public let reason: String

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "EnvelopeCryptoError.\(code): \(reason)" }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// Every blob-parsing failure: short input, a length past the end, a bad LEB128 length, an
    /// oversized wrapped-keys section.
    public static let malformedBlob = Self(.malformedBlob, "malformed blob")
    /// Wrong key, wrong associated data, or a tampered blob. No plaintext is ever returned.
    public static let authenticationFailed = Self(
        .authenticationFailed,
        "authentication failed: wrong key, wrong associated data, or tampered data"
    )
    /// Not strict standard base64 with padding.
    public static let invalidBase64 = Self(.invalidBase64, "invalid base64: expected standard base64 with padding")
    /// The decrypted bytes are not UTF-8.
    public static let invalidUTF8 = Self(.invalidUTF8, "decrypted data is not valid UTF-8")
    /// A data key must be exactly 32 bytes.
    public static let invalidKey = Self(.invalidKey, "a data key must be exactly 32 bytes")
    /// Wrapped keys must be 1 to ``EnvelopeBlob/maxEncryptedKeysCount`` bytes.
    public static let invalidEncryptedKeys = Self(
        .invalidEncryptedKeys,
        "encrypted keys must be 1 to \(EnvelopeBlob.maxEncryptedKeysCount) bytes"
    )
    /// The legacy layout is read-only.
    public static let unsupportedLayout = Self(
        .unsupportedLayout,
        "layout A' (32-byte IV) can be read but is never written"
    )

    /// The plaintext is past AES-GCM's limit of 2^36 - 32 bytes under one IV.
    public static let plaintextTooLong = Self(
        .plaintextTooLong,
        "the plaintext is longer than AES-GCM allows in one blob (2^36 - 32 bytes, about 64 GiB)"
    )
    /// Layout A's tag precedes the ciphertext: streaming it needs a file, not a pipe.
    public static let outputNotSeekable = Self(
        .outputNotSeekable,
        "layout A writes its tag before the ciphertext, so its output must be a file, not a pipe; use layout B to stream"
    )

    /// A file operation failed; `operation` says which, `code` is the system's `errno`.
    static func fileAccess(_ operation: String, errno code: Int32) -> Self {
        Self(.fileAccess, "cannot \(operation): \(String(cString: strerror(code)))")
    }

    static func libraryFailure(_ operation: StaticString) -> Self {
        Self(.libraryFailure, "libcrypto failed in \(operation)")
    }
}
