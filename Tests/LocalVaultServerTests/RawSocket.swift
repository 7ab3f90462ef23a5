import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP connection to 127.0.0.1 driven byte by byte, for what no HTTP client sends: half
/// requests, broken framing, silence. Blocking calls run on a thread of their own, never on a
/// Swift-concurrency thread.
final class RawSocket: @unchecked Sendable {
    // Safe to share: the descriptor is only used by one blocking call at a time (each test
    // awaits every call before the next) and closed once in `close()`.
    private var descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close() }

    /// Connects to `127.0.0.1:port`, waiting up to `timeout` (and as long for each later read).
    /// - Parameter receiveBuffer: a receive buffer size, to make a client that reads slowly
    ///   stall the server sooner; the system's by default.
    static func connect(
        port: Int,
        timeout: Duration = .seconds(20),
        receiveBuffer: Int32? = nil
    ) async throws
        -> RawSocket
    {
        try await onThread {
            let descriptor = makeStreamSocket()
            guard descriptor >= 0 else { throw RawSocketError.system("socket", errno) }
            let socket = RawSocket(descriptor: descriptor)
            socket.setTimeouts(timeout)
            if var size = receiveBuffer {
                setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            var address = loopbackAddress(port: port)
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    systemConnect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard result == 0 else { throw RawSocketError.system("connect", errno) }
            return socket
        }
    }

    /// Opens a connection without waiting for it to be established, for load that only needs
    /// to exist; `nil` if no descriptor is left.
    static func connectWithoutWaiting(port: Int) -> RawSocket? {
        let descriptor = makeStreamSocket()
        guard descriptor >= 0 else { return nil }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        var address = loopbackAddress(port: port)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                systemConnect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return RawSocket(descriptor: descriptor)
    }

    private func setTimeouts(_ timeout: Duration) {
        let seconds = timeout.components.seconds
        var value = timeval(tv_sec: .init(seconds), tv_usec: .init(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends every byte; `false` if the connection refused them (closed, reset).
    @discardableResult
    func send(_ bytes: some Collection<UInt8>) async -> Bool {
        let bytes = Array(bytes)
        return await Self.onThread { self.sendNow(bytes) }
    }

    /// Sends without waiting on a thread: for non-blocking sockets and small writes.
    @discardableResult
    func sendNow(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                systemSend(descriptor, $0.baseAddress, $0.count, noSignalFlag)
            }
            if sent < 0, errno == EINTR { continue }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// Reads until the peer closes, the read times out, or `until` says the bytes so far are
    /// enough.
    /// - Returns: the bytes, and whether the peer closed the connection.
    func receive(
        until done: @escaping @Sendable ([UInt8]) -> Bool = { _ in false }
    ) async -> (
        bytes: [UInt8], closed: Bool
    ) {
        await Self.onThread {
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
                if count < 0, errno == EINTR { continue }
                if count == 0 { return (received, true) }
                if count < 0 { return (received, errno == ECONNRESET) }
                received += chunk[..<count]
                if done(received) { return (received, false) }
            }
        }
    }

    /// Half-closes: the server reads the end of input.
    func shutdownWrite() {
        shutdown(descriptor, Int32(SHUT_WR))
    }

    func close() {
        if descriptor >= 0 {
            systemClose(descriptor)
            descriptor = -1
        }
    }

    private static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    private static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }
}

enum RawSocketError: Error, CustomStringConvertible {
    case system(String, Int32)

    var description: String {
        switch self {
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// A TCP socket that never raises SIGPIPE.
private func makeStreamSocket() -> Int32 {
    #if canImport(Glibc)
    return socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let descriptor = socket(AF_INET, SOCK_STREAM, 0)
    var on: Int32 = 1
    setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
    return descriptor
    #endif
}

#if canImport(Glibc)
private let noSignalFlag = Int32(MSG_NOSIGNAL)
#else
private let noSignalFlag: Int32 = 0
#endif

private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    #if canImport(Darwin)
    address.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
    #endif
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}

// At file scope, where the names do not clash with `RawSocket`'s methods.
private func systemConnect(_ descriptor: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    connect(descriptor, address, length)
}

private func systemSend(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int {
    send(descriptor, bytes, count, flags)
}

private func systemClose(_ descriptor: Int32) {
    _ = close(descriptor)
}

/// A response as read off the wire.
struct RawResponse {
    let status: Int
    let headers: [String: String]
    let body: [UInt8]

    /// Parses one complete response (with `Content-Length`); `nil` if `bytes` hold none yet.
    init?(_ bytes: [UInt8]) {
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces
            )
        }
        let length = headers["content-length"].flatMap(Int.init) ?? 0
        let body = bytes[end.upperBound...]
        guard body.count >= length else { return nil }
        self.status = status
        self.headers = headers
        self.body = Array(body.prefix(length))
    }

    /// Whether `bytes` hold a complete response.
    static func isComplete(_ bytes: [UInt8]) -> Bool { RawResponse(bytes) != nil }
}
