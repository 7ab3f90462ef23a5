import Foundation
import InMemoryLogging
import Logging
import Testing

@testable import LocalVaultServer

@Suite("Requests the HTTP parser refuses")
struct ParserErrorTests {
    static let authorization = "Authorization: Bearer \(TestKeys.primary)\r\n"

    /// Sends `request` on a fresh connection and reads the answer up to the close.
    static func answer(to request: [UInt8], port: Int) async throws -> RawResponse {
        let socket = try await RawSocket.connect(port: port, timeout: .seconds(30))
        defer { socket.close() }
        await socket.send(request)
        let (bytes, _) = await socket.receive()
        return try #require(
            RawResponse(bytes),
            "no complete response: \(String(decoding: bytes.prefix(200), as: UTF8.self))"
        )
    }

    static func expectVaultError(
        _ response: RawResponse,
        status: Int,
        code: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(response.status == status, sourceLocation: sourceLocation)
        #expect(response.headers["content-type"] == "application/json", sourceLocation: sourceLocation)
        #expect(response.headers["x-request-id"]?.isEmpty == false, sourceLocation: sourceLocation)
        #expect(response.headers["connection"] == "close", sourceLocation: sourceLocation)
        let body = try #require(
            try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String],
            sourceLocation: sourceLocation
        )
        #expect(body["code"] == code, sourceLocation: sourceLocation)
        #expect(body["error"] != nil && body["error"] == body["message"], sourceLocation: sourceLocation)
    }

    @Test("a bad header name: 400 with the Vault JSON error and x-request-id")
    func badHeaderName() async throws {
        try await GuardedServer.run { port in
            let request = "GET /vault/v1/kv HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\(Self.authorization)\r\n"
            let response = try await Self.answer(to: Array(request.utf8), port: port)
            try Self.expectVaultError(response, status: 400, code: "invalid_request")
        }
    }

    @Test("not HTTP at all: 400 with the Vault JSON error")
    func garbage() async throws {
        try await GuardedServer.run { port in
            let response = try await Self.answer(to: Array("\u{1}\u{2}\u{3} nonsense\r\n\r\n".utf8), port: port)
            try Self.expectVaultError(response, status: 400, code: "invalid_request")
        }
    }

    @Test("a 100 KB URI: 414 with the Vault JSON error")
    func longURI() async throws {
        try await GuardedServer.run { port in
            let path = "/vault/v1/kv/name/" + String(repeating: "a", count: 100_000)
            let request = "GET \(path) HTTP/1.1\r\nHost: x\r\n\(Self.authorization)\r\n"
            let response = try await Self.answer(to: Array(request.utf8), port: port)
            try Self.expectVaultError(response, status: 414, code: "uri_too_long")
        }
    }

    @Test("10,000 header fields: 431 with the Vault JSON error")
    func manyHeaders() async throws {
        try await GuardedServer.run { port in
            var request = "GET /vault/v1/kv HTTP/1.1\r\nHost: x\r\n\(Self.authorization)"
            for index in 0..<10_000 { request += "X-Field-\(index): v\r\n" }
            request += "\r\n"
            let response = try await Self.answer(to: Array(request.utf8), port: port)
            try Self.expectVaultError(response, status: 431, code: "request_header_fields_too_large")
        }
    }

    @Test("one header field of 100 KB: 431")
    func largeHeader() async throws {
        try await GuardedServer.run { port in
            let request =
                "GET /vault/v1/kv HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 100_000))\r\n\r\n"
            let response = try await Self.answer(to: Array(request.utf8), port: port)
            try Self.expectVaultError(response, status: 431, code: "request_header_fields_too_large")
        }
    }

    @Test("the server answers normally afterwards, and logs no error")
    func serverUnaffected() async throws {
        let handler = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in handler })
        try await GuardedServer.run(logger: logger) { port in
            _ = try await Self.answer(to: Array("GET /\u{0} HTTP/1.1\r\n\r\n".utf8), port: port)
            let response = try #require(await GuardedServer.listObjects(port: port))
            #expect(response.status == 200)
        }
        #expect(handler.entries.allSatisfy { $0.level < .error }, "\(handler.entries.filter { $0.level >= .error })")
    }
}

@Suite("Client faults in the body")
struct ClientFaultTests {
    static let head =
        "POST /vault/v1/kv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(TestKeys.primary)\r\n"
        + "Content-Type: application/json\r\n"

    @Test("a malformed chunk size: 400 with the JSON error, logged below error level")
    func malformedChunkSize() async throws {
        let handler = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in handler })
        try await GuardedServer.run(logger: logger) { port in
            let socket = try await RawSocket.connect(port: port, timeout: .seconds(30))
            defer { socket.close() }
            await socket.send(Array((Self.head + "Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n").utf8))
            let (bytes, _) = await socket.receive()
            let response = try #require(RawResponse(bytes), "\(String(decoding: bytes, as: UTF8.self))")
            #expect(response.status == 400)
            #expect(response.headers["x-request-id"]?.isEmpty == false)
            let body = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String]
            #expect(body?["code"] == "invalid_request")
        }
        #expect(handler.entries.allSatisfy { $0.level < .error }, "\(handler.entries.filter { $0.level >= .error })")
        #expect(handler.entries.contains { $0.level == .info && "\($0.message)".hasPrefix("POST /vault/v1/kv 400 ") })
    }

    @Test("a client hanging up mid-body is logged below error level, as a 400")
    func hangUpMidBody() async throws {
        let handler = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in handler })
        try await GuardedServer.run(logger: logger) { port in
            let socket = try await RawSocket.connect(port: port, timeout: .seconds(30))
            await socket.send(Array((Self.head + "Content-Length: 100\r\n\r\n{\"name\":").utf8))
            socket.shutdownWrite()
            _ = await socket.receive()
            socket.close()
            // The server logs its line once the request is done.
            let deadline = ContinuousClock.now + .seconds(20)
            while !handler.entries.contains(where: { $0.level == .info && "\($0.message)".hasPrefix("POST ") }),
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(handler.entries.allSatisfy { $0.level < .error }, "\(handler.entries.filter { $0.level >= .error })")
        #expect(handler.entries.contains { $0.level == .info && "\($0.message)".hasPrefix("POST /vault/v1/kv 400 ") })
    }
}
