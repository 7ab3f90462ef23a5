/// When the encrypt cache may reuse a data key for one key context.
///
/// Vault's promise is one data key per message; reusing one trades that for speed. A cached key
/// is used again only while it is younger than ``maxAge``, has sealed fewer than ``maxMessages``
/// messages and fewer than ``maxBytes`` bytes. Limits are checked (and the use reserved) before
/// each message, and an entry past any limit is dropped and never used again. Values above the
/// hard caps are lowered to them: random 96-bit IVs stay safe for far fewer than 2^32 messages per
/// key, and the caps keep every key well inside that.
public struct DataKeyCachePolicy: Sendable, Hashable {
    /// The oldest a reused key may be (default 60 s; hard cap 1 hour).
    public var maxAge: Duration
    /// The most messages one key may seal (default 1,000; hard cap 2^24).
    public var maxMessages: Int
    /// The most plaintext bytes one key may seal (default 256 MiB; hard cap 64 GiB).
    public var maxBytes: Int
    /// The most key contexts cached at once (default 1,000; hard cap 100,000); the oldest entry
    /// is evicted to make room.
    public var capacity: Int

    public static let hardMaxAge = Duration.seconds(3_600)
    public static let hardMaxMessages = 1 << 24
    public static let hardMaxBytes = 1 << 36
    public static let hardCapacity = 100_000

    public init(
        maxAge: Duration = .seconds(60),
        maxMessages: Int = 1_000,
        maxBytes: Int = 256 << 20,
        capacity: Int = 1_000
    ) {
        self.maxAge = min(max(maxAge, .zero), Self.hardMaxAge)
        self.maxMessages = min(max(maxMessages, 1), Self.hardMaxMessages)
        self.maxBytes = min(max(maxBytes, 0), Self.hardMaxBytes)
        self.capacity = min(max(capacity, 1), Self.hardCapacity)
    }
}

/// How long unwrapped data keys are kept for decryption, keyed by a SHA-256 of their wrapped form.
///
/// On by default with a small bound (256 keys, 60 s): decrypting the same blob (or blobs sharing a
/// data key) again costs no round trip, while a key revoked at the service stops working here
/// within a minute at most.
public struct DecryptCachePolicy: Sendable, Hashable {
    /// The longest a key is kept (default 60 s; hard cap 1 hour).
    public var maxAge: Duration
    /// The most keys kept (default 256; hard cap 100,000); the oldest is evicted to make room.
    public var capacity: Int

    public init(maxAge: Duration = .seconds(60), capacity: Int = 256) {
        self.maxAge = min(max(maxAge, .zero), DataKeyCachePolicy.hardMaxAge)
        self.capacity = min(max(capacity, 1), DataKeyCachePolicy.hardCapacity)
    }
}

/// Counters of a ``CachingKEKResolver``.
public struct CacheStatistics: Sendable, Hashable {
    /// Encrypts served by a cached data key, without a request of their own.
    public var encryptHits = 0
    /// Requests for a new data key (concurrent misses for one context share one).
    public var encryptMisses = 0
    /// Cached data keys dropped: past a limit, or to make room.
    public var encryptEvictions = 0
    /// Decrypts served without a request of their own (cached, or joining one in flight).
    public var decryptHits = 0
    /// Requests to unwrap a data key (concurrent misses for the same wrapped keys share one).
    public var decryptMisses = 0
    /// Unwrapped keys dropped: too old, or to make room.
    public var decryptEvictions = 0

    public init() {}
}
