#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How long `vault serve` waits for clients, and how many connections it keeps open: what stops
/// silent or slow clients (slowloris) from holding the server's file descriptors.
public struct ConnectionLimits: Sendable, Equatable {
    /// How long a request may take to arrive in full, head and body, from its first byte. A
    /// request head still incomplete then gets 408; a body still incomplete ends the connection.
    public var readTimeout: Duration
    /// How long a connection may wait for its next request, after it opens or after a response.
    /// Also how long a response may wait for a client that stopped reading.
    public var idleTimeout: Duration
    /// The most connections open at once; `nil` derives it from the file limit
    /// (``FileDescriptorLimit/defaultMaxConnections(fileLimit:)``). A larger value than
    /// ``FileDescriptorLimit/connectionsAllowed(fileLimit:)`` is lowered to it. At the cap, a new connection
    /// closes the connection that has waited longest without a request in progress; with none,
    /// new connections wait in the listen queue.
    public var maxConnections: Int?

    /// The defaults: 30 s to read a request, 30 s of idleness, a cap from the file limit.
    public static let `default` = ConnectionLimits()

    /// - Parameters:
    ///   - readTimeout: see ``readTimeout``; 30 s by default.
    ///   - idleTimeout: see ``idleTimeout``; 30 s by default.
    ///   - maxConnections: see ``maxConnections``; derived from the file limit by default.
    public init(readTimeout: Duration = .seconds(30), idleTimeout: Duration = .seconds(30), maxConnections: Int? = nil)
    {
        self.readTimeout = readTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }
}

/// The process's limit on open files (`RLIMIT_NOFILE`): every connection holds one descriptor,
/// and so do SQLite's readers, the log and the key files.
public enum FileDescriptorLimit {
    /// Descriptors kept for everything but connections, at least: SQLite's connections (a file
    /// and its `-wal` each), the event loops' epoll and event descriptors, standard streams, key
    /// files, libdispatch.
    static let minimumReserve = 64
    /// The default cap, whatever the limit: memory, not descriptors, is the bound beyond.
    static let defaultCapCeiling = 16_384

    /// Raises the soft limit to the hard limit (a service is started with a soft limit of 1,024
    /// on most systems while the hard limit is far higher).
    /// - Returns: the soft limit in force afterwards; `nil` if it cannot be read.
    @discardableResult
    public static func raiseSoftLimitToHardLimit() -> Int? {
        var limit = rlimit()
        guard getrlimit(resourceNumber, &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            // An unlimited hard limit is refused on Linux (the kernel's nr_open bounds it); the
            // soft limit then stays where it was.
            if setrlimit(resourceNumber, &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur == rlim_t.max ? Int.max : Int(clamping: limit.rlim_cur)
    }

    /// The soft limit in force; `nil` if it cannot be read.
    public static func current() -> Int? {
        var limit = rlimit()
        guard getrlimit(resourceNumber, &limit) == 0 else { return nil }
        return limit.rlim_cur == rlim_t.max ? Int.max : Int(clamping: limit.rlim_cur)
    }

    /// The default connection cap for a file limit: three quarters of it (a quarter, at least 64,
    /// stays for SQLite, logs and keys), at most 16,384, at least 1.
    public static func defaultMaxConnections(fileLimit: Int) -> Int {
        min(connectionsAllowed(fileLimit: fileLimit), defaultCapCeiling)
    }

    /// The most connections that leave a quarter of the file limit (at least 64 files) to the
    /// rest of the process; at least 1.
    public static func connectionsAllowed(fileLimit: Int) -> Int {
        max(1, fileLimit - max(minimumReserve, fileLimit / 4))
    }

    #if canImport(Glibc)
    private static let resourceNumber = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resourceNumber = RLIMIT_NOFILE
    #endif
}
