import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A loopback HTTP/1.1 server that answers each request with the next scripted reply (then the
/// last one again), for the provider-request tests: 429, 5xx, refusals, and answers too slow.
/// One connection per request (`Connection: close`).
final class ScriptedProviderServer: Sendable {
    struct Reply: Sendable {
        var status: Int
        var body = "{}"
        var delay: Duration = .zero
    }

    let port: Int
    private let listener: Int32
    private let served = Atomic(0)
    private let script: [Reply]

    /// How many requests arrived.
    var requests: Int { served.load(ordering: .relaxed) }

    init(_ script: [Reply]) throws {
        precondition(!script.isEmpty)
        self.script = script
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard listening else {
            close(descriptor)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        listener = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in serve() }
    }

    var url: String { "http://127.0.0.1:\(port)/" }

    /// Stops accepting; a request in progress finishes.
    func stop() { shutdown(listener, Int32(SHUT_RDWR)) }

    deinit { close(listener) }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            let index = served.add(1, ordering: .relaxed).newValue - 1
            let reply = script[min(index, script.count - 1)]
            Thread.detachNewThread {
                Self.readRequest(connection)
                Thread.sleep(
                    forTimeInterval: Double(reply.delay.components.seconds) + Double(reply.delay.components.attoseconds)
                        / 1e18
                )
                let text =
                    "HTTP/1.1 \(reply.status) X\r\nContent-Type: application/x-amz-json-1.1\r\n"
                    + "Content-Length: \(reply.body.utf8.count)\r\nConnection: close\r\n\r\n\(reply.body)"
                _ = Array(text.utf8).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(connection)
            }
        }
    }

    /// Reads the head and a `Content-Length` body.
    private static func readRequest(_ connection: Int32) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            received += buffer[..<count]
            let text = String(decoding: received, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { continue }
            let head = text[..<end.lowerBound].lowercased()
            let length =
                head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length { return }
        }
    }
}
