import Foundation
import LocalVault
import Testing

@testable import LocalVaultServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Slow and silent clients")
struct SlowClientTests {
    /// Short timeouts, so that each test waits seconds, not half a minute.
    static let shortLimits = ConnectionLimits(readTimeout: .seconds(2), idleTimeout: .seconds(2))

    @Test("a connection that sends nothing is closed after the idle timeout, without an answer")
    func silentConnectionIsClosed() async throws {
        try await GuardedServer.run(limits: Self.shortLimits) { port in
            let socket = try await RawSocket.connect(port: port, timeout: .seconds(30))
            let start = ContinuousClock.now
            let (bytes, closed) = await socket.receive()
            #expect(closed, "the server kept a silent connection open past the idle timeout")
            #expect(bytes.isEmpty)
            #expect(ContinuousClock.now - start < .seconds(25))
        }
    }

    @Test("a kept-alive connection is closed after the idle timeout that follows its response")
    func idleKeepAliveConnectionIsClosed() async throws {
        try await GuardedServer.run(limits: Self.shortLimits) { port in
            let socket = try await RawSocket.connect(port: port, timeout: .seconds(30))
            await socket.send(
                Array("GET /vault/v1/kv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(TestKeys.primary)\r\n\r\n".utf8)
            )
            let first = await socket.receive(until: RawResponse.isComplete)
            #expect(RawResponse(first.bytes)?.status == 200)
            let (rest, closed) = await socket.receive()
            #expect(closed, "the server kept an idle keep-alive connection open past the idle timeout")
            #expect(rest.isEmpty)
        }
    }

    @Test("a request head sent too slowly (slowloris) gets 408 with the JSON error, then the connection closes")
    func slowHeadIsAnswered408() async throws {
        try await GuardedServer.run(limits: ConnectionLimits(readTimeout: .seconds(2), idleTimeout: .seconds(60))) {
            port in
            let socket = try await RawSocket.connect(port: port, timeout: .seconds(30))
            await socket.send(Array("GET /vault/v1/kv HTTP/1.1\r\nHost: x\r\n".utf8))
            // Trickle a header byte by byte, each well within any idle timeout.
            for byte in "X-Slow: 1".utf8 {
                try await Task.sleep(for: .milliseconds(300))
                guard await socket.send([byte]) else { break }
            }
            let (bytes, closed) = await socket.receive()
            #expect(closed, "the server waited for a slow request head past the read timeout")
            let response = try #require(RawResponse(bytes), "no response: \(String(decoding: bytes, as: UTF8.self))")
            #expect(response.status == 408)
            #expect(response.headers["content-type"] == "application/json")
            #expect(response.headers["x-request-id"]?.isEmpty == false)
            #expect(response.headers["connection"] == "close")
            let body = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: String]
            #expect(body?["code"] == "request_timeout")
            #expect(body?["error"] != nil && body?["message"] != nil)
        }
    }

    @Test("a request body sent too slowly ends the connection after the read timeout")
    func slowBodyIsCutOff() async throws {
        try await GuardedServer.run(limits: ConnectionLimits(readTimeout: .seconds(2), idleTimeout: .seconds(60))) {
            port in
            let socket = try await RawSocket.connect(port: port, timeout: .seconds(30))
            let head =
                "POST /vault/v1/keys/data-key HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(TestKeys.primary)\r\n"
                + "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"
            await socket.send(Array(head.utf8))
            let start = ContinuousClock.now
            // One byte a second would keep an idle timeout of a second from ever firing.
            var stillOpen = true
            while stillOpen, ContinuousClock.now - start < .seconds(20) {
                try await Task.sleep(for: .milliseconds(500))
                stillOpen = await socket.send(Array(" ".utf8))
            }
            let (_, closed) = await socket.receive()
            #expect(!stillOpen || closed, "the server kept reading a trickled body past the read timeout")
            #expect(ContinuousClock.now - start < .seconds(25))
        }
    }

    @Test("a request answered before its body (401) gets no second answer when its body never comes")
    func earlyAnswerGetsNo408() async throws {
        try await GuardedServer.run(limits: ConnectionLimits(readTimeout: .seconds(2), idleTimeout: .seconds(60))) {
            port in
            let socket = try await RawSocket.connect(port: port, timeout: .seconds(30))
            let head =
                "POST /vault/v1/keys/data-key HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_wrong\r\n"
                + "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"
            await socket.send(Array(head.utf8))
            let (bytes, closed) = await socket.receive()
            #expect(closed)
            #expect(HTTPFuzzTests.statuses(in: bytes) == [401])
        }
    }

    @Test("a client that stops reading its response is disconnected after the idle timeout")
    func stalledReaderIsCutOff() async throws {
        try await GuardedServer.run(limits: Self.shortLimits) { port in
            // A 900 kB value.
            let value = String(repeating: "v", count: 900_000)
            let create = try await RawSocket.connect(port: port, timeout: .seconds(30))
            let body = #"{"name":"big","value":"\#(value)","key_context":{"organization_id":"org_1"}}"#
            await create.send(
                Array(
                    ("POST /vault/v1/kv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(TestKeys.primary)\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body).utf8
                )
            )
            let created = try #require(RawResponse(await create.receive(until: RawResponse.isComplete).bytes))
            create.close()
            #expect(created.status == 201)
            let id = try #require(
                (try JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any])?["id"] as? String
            )

            // Twenty such reads, pipelined: far more than the socket buffers hold.
            let reader = try await RawSocket.connect(port: port, timeout: .seconds(30), receiveBuffer: 4_096)
            let read = "GET /vault/v1/kv/\(id) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(TestKeys.primary)\r\n\r\n"
            await reader.send(Array(String(repeating: read, count: 20).utf8))
            // Read nothing for several idle timeouts (generous: on a loaded machine the server
            // takes seconds to produce the first responses), then everything there is.
            try await Task.sleep(for: .seconds(15))
            let (bytes, closed) = await reader.receive()
            #expect(closed, "the server kept waiting for a client that does not read")
            let answered = HTTPFuzzTests.statuses(in: bytes).count
            #expect(answered < 20, "every response arrived: the server did not give up")
        }
    }

    @Test("at the connection cap, a new connection closes the one waiting longest; requests are answered")
    func capClosesLongestWaiting() async throws {
        let limits = ConnectionLimits(readTimeout: .seconds(60), idleTimeout: .seconds(60), maxConnections: 8)
        try await GuardedServer.run(limits: limits) { port in
            var sockets: [RawSocket] = []
            for _ in 0..<20 {
                sockets.append(try await RawSocket.connect(port: port, timeout: .seconds(30)))
            }
            let response = try #require(await GuardedServer.listObjects(port: port))
            #expect(response.status == 200)
            // The oldest silent connections were closed to make room.
            let (_, closed) = await sockets[0].receive()
            #expect(closed)
            for socket in sockets { socket.close() }
        }
    }

    @Test("default limits: at most 30 s each, a cap of three quarters of the file limit")
    func defaults() {
        #expect(ConnectionLimits.default.readTimeout <= .seconds(30))
        #expect(ConnectionLimits.default.idleTimeout <= .seconds(30))
        #expect(FileDescriptorLimit.defaultMaxConnections(fileLimit: 1_024) == 768)
        #expect(FileDescriptorLimit.defaultMaxConnections(fileLimit: 100) == 36)
        #expect(FileDescriptorLimit.defaultMaxConnections(fileLimit: 1_048_576) == 16_384)
        #expect(FileDescriptorLimit.defaultMaxConnections(fileLimit: 10) == 1)
    }
}

@Suite("Slowloris against the vault binary", .serialized)
struct SlowlorisProcessTests {
    @Test(
        "1,100 idle and half-sent connections against vault serve under a 1,024-file limit: it stays up and answers",
        .timeLimit(.minutes(5))
    )
    func slowlorisUnderFileLimit() async throws {
        guard let prlimit = ["/usr/bin/prlimit", "/bin/prlimit"].first(where: FileManager.default.isExecutableFile)
        else {
            try #require(!isCI, "prlimit (util-linux) is needed")
            return
        }
        // This process holds the 1,100 client sockets.
        FileDescriptorLimit.raiseSoftLimitToHardLimit()
        try #require((FileDescriptorLimit.current() ?? 0) > 1_400, "the test needs 1,400 open files")

        try await withTemporaryDirectory { directory in
            let server = try await VaultProcess.serve(
                dataDirectory: directory,
                apiKeys: TestKeys.primary,
                launcher: [prlimit, "--nofile=1024"]
            )
            defer { server.stop() }
            let port = try #require(server.port)

            var attackers: [RawSocket] = []
            for index in 0..<1_100 {
                guard let socket = RawSocket.connectWithoutWaiting(port: port) else { break }
                attackers.append(socket)
                // Paced, so that the listen queue never overflows: a connection whose handshake
                // the kernel dropped would exist on this side only and load nothing.
                if index % 20 == 19 { try await Task.sleep(for: .milliseconds(30)) }
            }
            #expect(attackers.count == 1_100)
            try await Task.sleep(for: .seconds(1))
            // Every other one starts a request head and never finishes it.
            for socket in attackers.enumerated().filter({ $0.offset % 2 == 1 }).map(\.element) {
                socket.sendNow(Array("GET /vault/v1/kv HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8))
            }
            try await Task.sleep(for: .seconds(1))

            let start = ContinuousClock.now
            let response = try await GuardedServer.listObjects(port: port, timeout: .seconds(45))
            let elapsed = ContinuousClock.now - start
            #expect(response?.status == 200, "no answer within 45 s under 1,100 idle connections")
            #expect(elapsed < .seconds(45))
            #expect(server.process.isRunning, "vault serve died: \(server.standardError.suffix(2_000))")

            for socket in attackers { socket.close() }
            let after = try await GuardedServer.listObjects(port: port)
            #expect(after?.status == 200)
            #expect(server.process.isRunning)
            #expect(!server.standardError.contains(" error "), "\(server.standardError.suffix(2_000))")
        }
    }

    @Test(
        "a cap set above the file limit is lowered: 300 connections under a 128-file limit do not kill the server",
        .timeLimit(.minutes(3))
    )
    func capAboveFileLimitIsLowered() async throws {
        guard let prlimit = ["/usr/bin/prlimit", "/bin/prlimit"].first(where: FileManager.default.isExecutableFile)
        else {
            try #require(!isCI, "prlimit (util-linux) is needed")
            return
        }
        FileDescriptorLimit.raiseSoftLimitToHardLimit()
        try await withTemporaryDirectory { directory in
            let server = try await VaultProcess.serve(
                dataDirectory: directory,
                apiKeys: TestKeys.primary,
                arguments: ["--max-connections", "1000"],
                launcher: [prlimit, "--nofile=128"]
            )
            defer { server.stop() }
            let port = try #require(server.port)
            var sockets: [RawSocket] = []
            for _ in 0..<300 {
                guard let socket = RawSocket.connectWithoutWaiting(port: port) else { break }
                sockets.append(socket)
            }
            try await Task.sleep(for: .seconds(3))
            #expect(server.process.isRunning, "vault serve died: \(server.standardError.suffix(2_000))")
            for socket in sockets { socket.close() }
            let response = try await GuardedServer.listObjects(port: port, timeout: .seconds(30))
            #expect(response?.status == 200)
            #expect(server.process.isRunning)
            #expect(server.standardError.contains("--max-connections lowered"))
        }
    }
}
