internal import CLibcrypto
import Synchronization

/// A 32-byte AES-256 data key (DEK).
///
/// The bytes live in one heap allocation that is wiped with `OPENSSL_cleanse` when the last copy
/// of the key is released. Equality is constant-time. `description`, `debugDescription` and the
/// mirror that `dump()` walks all print `DataKey(redacted)`. The type is deliberately not
/// `Codable`: getting the bytes out takes an explicit call (``withUnsafeBytes(_:)`` or
/// ``base64EncodedString()``).
public struct DataKey: Sendable {
    /// The length of an AES-256 key in bytes.
    public static let byteCount = 32

    let storage: KeyStorage

    /// Draws a fresh key from libcrypto's CSPRNG (`RAND_bytes`, drawn in bulk into a per-thread
    /// pool whose bytes are wiped as they are handed out).
    /// - Throws: ``EnvelopeCryptoError/Code-swift.struct/libraryFailure`` if the generator fails.
    public static func generate() throws -> DataKey {
        let storage = KeyStorage()
        try RandomIV.fillBytes(storage.bytes.baseAddress!, count: byteCount)
        return DataKey(storage: storage)
    }

    /// Copies a key from raw bytes.
    /// - Parameter bytes: exactly 32 bytes.
    /// - Throws: ``EnvelopeCryptoError/invalidKey`` for any other length.
    public init(copying bytes: [UInt8]) throws {
        let storage = try bytes.withUnsafeBytes { source in
            guard source.count == Self.byteCount else { throw EnvelopeCryptoError.invalidKey }
            let storage = KeyStorage()
            storage.bytes.copyMemory(from: source)
            return storage
        }
        self.init(storage: storage)
    }

    /// Decodes a key from strict standard base64, the form of the Vault API's `data_key` field.
    /// The intermediate buffer is wiped.
    /// - Throws: ``EnvelopeCryptoError/invalidBase64`` or ``EnvelopeCryptoError/invalidKey``.
    public init(base64Encoded text: some StringProtocol) throws {
        var decoded = try Base64.decode(text)
        defer { decoded.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        try self.init(copying: decoded)
    }

    init(storage: KeyStorage) {
        self.storage = storage
    }

    /// Calls `body` with the key bytes. Do not let the pointer escape or copy the bytes into
    /// storage that is not wiped.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(storage.bytes))
    }

    /// The key as standard base64, for the `data_key` field of the Vault API.
    public func base64EncodedString() -> String {
        Base64.encode(UnsafeRawBufferPointer(storage.bytes))
    }
}

extension DataKey: Equatable {
    /// Constant-time comparison (`CRYPTO_memcmp`).
    public static func == (lhs: DataKey, rhs: DataKey) -> Bool {
        CRYPTO_memcmp(lhs.storage.bytes.baseAddress, rhs.storage.bytes.baseAddress, byteCount) == 0
    }
}

extension DataKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "DataKey(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// The key bytes, wiped on release, and a cipher context with this key already installed.
///
/// The context is created on first use and reused by later messages under the same key; a caller
/// that finds it busy (another thread is sealing with the same key) uses a one-off context instead
/// of waiting. Freeing the context wipes the key schedule too, so no key material outlives the key.
final class KeyStorage: Sendable, CustomReflectable {
    nonisolated(unsafe) let bytes: UnsafeMutableRawBufferPointer
    private let cachedContext = Mutex<GCMContext?>(nil)

    init() {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: DataKey.byteCount, alignment: 16)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        OPENSSL_cleanse(bytes.baseAddress, bytes.count)
        bytes.deallocate()
    }

    var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }

    func withContext<Result>(
        _ body: (GCMContext) throws(EnvelopeCryptoError) -> Result
    ) throws(EnvelopeCryptoError)
        -> Result
    {
        let key = UnsafeRawBufferPointer(bytes)
        let result: Result? = try cachedContext.withLockIfAvailable { (cached) throws(EnvelopeCryptoError) -> Result in
            if cached == nil { cached = try GCMContext(key: key) }
            return try body(cached!)
        }
        if let result { return result }
        return try body(GCMContext(key: key))
    }
}
