import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A deliberately misbehaving HTTP/1.1 server on 127.0.0.1, port 0, for client tests: each request
/// gets the next scripted behaviour (a status with headers and body, a delay, a reset, a truncated
/// body, silence). It records every request it receives and when.
final class ScriptedHTTPServer: Sendable {
    enum Behaviour: Sendable {
        case respond(status: Int, headers: [String: String] = [:], body: String = "")
        case delayed(seconds: Double, status: Int, body: String)
        case reset
        case truncated(status: Int, declaredLength: Int, body: String)
        case silent
    }

    struct Recorded: Sendable {
        var method: String
        var path: String
        var headers: [String: String]
        var body: String
        var receivedAt: ContinuousClock.Instant
    }

    let port: Int
    private let listener: Int32
    /// `open` holds the connections still open. A descriptor is closed only under this lock and
    /// removed from `open` at the same time: `stop()` must never shut down a number the process
    /// has since reused for another test's socket.
    private let state:
        Mutex<(script: [Behaviour], fallback: Behaviour, recorded: [Recorded], open: Set<Int32>, stopped: Bool)>

    init(
        script: [Behaviour],
        fallback: Behaviour = .respond(status: 500, body: #"{"error":"script exhausted"}"#)
    ) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        state = Mutex((script, fallback, [], [], false))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var requests: [Recorded] { state.withLock { $0.recorded } }

    /// Closes the listener and every open connection.
    func stop() {
        state.withLock { state in
            guard !state.stopped else { return }
            state.stopped = true
            // Wakes the accept loop, which closes the listener itself.
            shutdown(listener, Int32(SHUT_RDWR))
            for connection in state.open { shutdown(connection, Int32(SHUT_RDWR)) }
        }
    }

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            let accepted = state.withLock { state in
                guard !state.stopped else {
                    close(connection)
                    return false
                }
                state.open.insert(connection)
                return true
            }
            guard accepted else { return }
            let thread = Thread { [self] in serve(connection) }
            thread.start()
        }
    }

    private func serve(_ connection: Int32) {
        defer {
            state.withLock { state in
                state.open.remove(connection)
                close(connection)
            }
        }
        var buffer: [UInt8] = []
        while true {
            guard let request = readRequest(connection, buffer: &buffer) else { return }
            let behaviour = state.withLock { state -> Behaviour in
                state.recorded.append(request)
                return state.script.isEmpty ? state.fallback : state.script.removeFirst()
            }
            switch behaviour {
            case .respond(let status, let headers, let body):
                // A response to HEAD declares its length but carries no body.
                send(connection, status: status, headers: headers, body: body, omitBody: request.method == "HEAD")
            case .delayed(let seconds, let status, let body):
                Thread.sleep(forTimeInterval: seconds)
                send(connection, status: status, headers: [:], body: body)
            case .reset:
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(connection, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                return
            case .truncated(let status, let declaredLength, let body):
                write(connection, "HTTP/1.1 \(status) X\r\nContent-Length: \(declaredLength)\r\n\r\n\(body)")
                return
            case .silent:
                var byte: UInt8 = 0
                _ = recv(connection, &byte, 1, 0)  // until the client gives up
                return
            }
        }
    }

    private func send(
        _ connection: Int32,
        status: Int,
        headers: [String: String],
        body: String,
        omitBody: Bool = false
    ) {
        var head = "HTTP/1.1 \(status) Scripted\r\nContent-Length: \(body.utf8.count)\r\n"
        head += "Content-Type: application/json\r\nx-request-id: req_\(status)_test\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        write(connection, head + "\r\n" + (omitBody ? "" : body))
    }

    private func write(_ connection: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes {
                Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count <= 0 { return }
            sent += count
        }
    }

    /// Reads one request (headers and a Content-Length body); nil when the peer closed.
    private func readRequest(_ connection: Int32, buffer: inout [UInt8]) -> Recorded? {
        let separator = Array("\r\n\r\n".utf8)
        while buffer.firstRange(of: separator) == nil {
            guard receive(connection, into: &buffer) else { return nil }
        }
        let headerEnd = buffer.firstRange(of: separator)!
        let head = String(decoding: buffer[..<headerEnd.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces
            )
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < headerEnd.upperBound + length {
            guard receive(connection, into: &buffer) else { return nil }
        }
        let body = String(decoding: buffer[headerEnd.upperBound..<(headerEnd.upperBound + length)], as: UTF8.self)
        buffer.removeFirst(headerEnd.upperBound + length)
        return Recorded(
            method: requestLine.count > 0 ? String(requestLine[0]) : "",
            path: requestLine.count > 1 ? String(requestLine[1]) : "",
            headers: headers,
            body: body,
            receivedAt: .now
        )
    }

    private func receive(_ connection: Int32, into buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer += chunk[0..<count]
        return true
    }
}
