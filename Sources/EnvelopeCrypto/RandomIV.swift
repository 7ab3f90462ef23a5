internal import CLibcrypto
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Random 12-byte GCM IVs (and other short random values: data keys, ids), drawn from a per-thread
/// buffer that `RAND_bytes` fills in bulk.
///
/// One `RAND_bytes(12)` call costs about 0.65 us here, three times the AES-GCM work for a 64-byte
/// message; one 4 KiB call amortises that to a few nanoseconds per IV. Every byte still comes from
/// libcrypto's CSPRNG and each IV is handed out exactly once.
///
/// Fork safety: a child process inherits the parent's buffers, and handing out the same IV on both
/// sides of a `fork()` would break GCM. A `pthread_atfork` child handler bumps ``forkGeneration``
/// and every pool refills when its generation is stale. This is the mechanism OpenSSL's own DRBG
/// uses; it is checked with one relaxed atomic load per IV, where comparing `getpid()` would cost a
/// system call (140 ns here: glibc no longer caches the pid).
enum RandomIV {
    static let count = 12

    /// Writes a fresh IV to `destination` (12 bytes).
    static func fill(_ destination: UnsafeMutableRawPointer) throws(EnvelopeCryptoError) {
        try IVPool.current.take(into: destination, count: count)
    }

    /// Writes `count` (at most 64) fresh random bytes to `destination`, from the same pool. The
    /// bytes handed out are wiped from the pool, so a key drawn from it leaves no copy behind.
    static func fillBytes(_ destination: UnsafeMutableRawPointer, count: Int) throws(EnvelopeCryptoError) {
        precondition(count <= 64)
        try IVPool.current.take(into: destination, count: count)
    }

    /// Whether this thread's pool would be refilled before its next IV (visible for fork tests).
    static var currentPoolIsStale: Bool { IVPool.current.isStale }
}

/// Bumped in the child after every `fork()`; see ``RandomIV``.
private let forkGeneration = Atomic<UInt64>(0)

private let poolKey: pthread_key_t = {
    pthread_atfork(nil, nil) { forkGeneration.add(1, ordering: .relaxed) }
    var key = pthread_key_t()
    let created = pthread_key_create(&key) { pool in
        #if canImport(Darwin)
        Unmanaged<IVPool>.fromOpaque(pool).release()
        #else
        if let pool { Unmanaged<IVPool>.fromOpaque(pool).release() }
        #endif
    }
    precondition(created == 0, "pthread_key_create failed")
    return key
}()

private final class IVPool {
    private static let capacity = 340 * RandomIV.count
    private let buffer = UnsafeMutableRawPointer.allocate(byteCount: IVPool.capacity, alignment: 16)
    private var offset = IVPool.capacity
    private var generation = forkGeneration.load(ordering: .relaxed)

    deinit {
        OPENSSL_cleanse(buffer, Self.capacity)
        buffer.deallocate()
    }

    static var current: IVPool {
        if let existing = pthread_getspecific(poolKey) {
            return Unmanaged<IVPool>.fromOpaque(existing).takeUnretainedValue()
        }
        let pool = IVPool()
        pthread_setspecific(poolKey, Unmanaged.passRetained(pool).toOpaque())
        return pool
    }

    var isStale: Bool { generation != forkGeneration.load(ordering: .relaxed) }

    func take(into destination: UnsafeMutableRawPointer, count: Int) throws(EnvelopeCryptoError) {
        if Self.capacity - offset < count || isStale { try refill() }
        let source = buffer.advanced(by: offset)
        destination.copyMemory(from: source, byteCount: count)
        OPENSSL_cleanse(source, count)
        offset += count
    }

    private func refill() throws(EnvelopeCryptoError) {
        generation = forkGeneration.load(ordering: .relaxed)
        guard RAND_bytes(buffer.assumingMemoryBound(to: UInt8.self), Int32(Self.capacity)) == 1 else {
            offset = Self.capacity
            ERR_clear_error()
            throw .libraryFailure("RAND_bytes")
        }
        offset = 0
    }
}
