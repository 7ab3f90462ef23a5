import Foundation
import Testing
import VaultHTTP

/// The transport keeps curl easy handles between requests: nothing of one request (method, body,
/// headers, timeout, HEAD) may reach the next, and a failed transfer must leave the handle clean.
@Suite(.timeLimit(.minutes(1)))
struct CurlTransportReuseTests {
    @Test func aPostThenAGetOnAReusedHandleCarriesNoBodyOrHeaderOfThePost() async throws {
        let server = try ScriptedHTTPServer(script: [
            .respond(status: 201, headers: ["X-Only-First": "1"], body: #"{"first":true}"#),
            .respond(status: 200, body: #"{"second":true}"#),
        ])
        defer { server.stop() }
        let transport = CurlTransport()
        let post = try await transport.send(
            TransportRequest(
                method: .post,
                url: server.baseURL + "/a",
                headers: [("X-Custom", "post-only"), ("Content-Type", "application/json")],
                body: Array(#"{"hello":"world"}"#.utf8)
            )
        )
        #expect(post.status == 201)
        #expect(post.header("x-only-first") == "1")
        let get = try await transport.send(TransportRequest(method: .get, url: server.baseURL + "/b"))
        #expect(get.status == 200)
        #expect(String(decoding: get.body, as: UTF8.self) == #"{"second":true}"#)
        #expect(get.header("x-only-first") == nil, "a header of the previous response")
        #expect(get.newConnections == 0, "the kept connection survives the handle reset")

        let requests = server.requests
        try #require(requests.count == 2)
        #expect(requests[0].method == "POST")
        #expect(requests[0].body == #"{"hello":"world"}"#)
        #expect(requests[0].headers["x-custom"] == "post-only")
        #expect(requests[1].method == "GET")
        #expect(requests[1].path == "/b")
        #expect(requests[1].body.isEmpty)
        #expect(requests[1].headers["x-custom"] == nil)
        #expect(requests[1].headers["content-type"] == nil)
        #expect(requests[1].headers["content-length"] == nil)
    }

    @Test func aFailedTransferThenAGoodOne() async throws {
        let server = try ScriptedHTTPServer(script: [.reset, .respond(status: 200, body: "ok")])
        defer { server.stop() }
        let transport = CurlTransport()
        let error = await #expect(throws: HTTPTransportError.self) {
            _ = try await transport.send(
                TransportRequest(method: .post, url: server.baseURL + "/fails", body: Array("x".utf8))
            )
        }
        #expect(error?.kind == .connection)
        let good = try await transport.send(TransportRequest(method: .get, url: server.baseURL + "/works"))
        #expect(good.status == 200)
        #expect(String(decoding: good.body, as: UTF8.self) == "ok")
        #expect(server.requests.last?.method == "GET")
        #expect(server.requests.last?.body.isEmpty == true)
    }

    @Test func aShortTimeoutDoesNotOutliveItsRequest() async throws {
        let server = try ScriptedHTTPServer(script: [
            .silent, .delayed(seconds: 0.5, status: 200, body: "late but fine"),
        ])
        defer { server.stop() }
        let transport = CurlTransport()
        let error = await #expect(throws: HTTPTransportError.self) {
            _ = try await transport.send(
                TransportRequest(method: .get, url: server.baseURL + "/silent", timeout: .milliseconds(200))
            )
        }
        #expect(error?.kind == .timeout)
        let slow = try await transport.send(
            TransportRequest(method: .get, url: server.baseURL + "/slow", timeout: .seconds(10))
        )
        #expect(String(decoding: slow.body, as: UTF8.self) == "late but fine")
    }

    @Test func aHeadThenAGetStillReadsTheBody() async throws {
        let server = try ScriptedHTTPServer(script: [], fallback: .respond(status: 200, body: "body"))
        defer { server.stop() }
        let transport = CurlTransport()
        let head = try await transport.send(TransportRequest(method: .head, url: server.baseURL + "/h"))
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        let get = try await transport.send(TransportRequest(method: .get, url: server.baseURL + "/g"))
        #expect(String(decoding: get.body, as: UTF8.self) == "body")
    }

    @Test func aTooLargeResponseThenANormalOne() async throws {
        let big = String(repeating: "x", count: 4096)
        let server = try ScriptedHTTPServer(script: [
            .respond(status: 200, body: big), .respond(status: 200, body: "small"),
        ])
        defer { server.stop() }
        let transport = CurlTransport(maxResponseBytes: 1024)
        let error = await #expect(throws: HTTPTransportError.self) {
            _ = try await transport.send(TransportRequest(method: .get, url: server.baseURL + "/big"))
        }
        #expect(error?.kind == .responseTooLarge)
        let small = try await transport.send(TransportRequest(method: .get, url: server.baseURL + "/small"))
        #expect(String(decoding: small.body, as: UTF8.self) == "small")
    }

    @Test func manyRequestsAtOnceEachGetTheirOwnResponse() async throws {
        let server = try ScriptedHTTPServer(script: [], fallback: .respond(status: 200, body: "same"))
        defer { server.stop() }
        let transport = CurlTransport()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let method: TransportRequest.Method = index.isMultiple(of: 2) ? .post : .get
                    let body: [UInt8]? = method == .post ? Array("n=\(index)".utf8) : nil
                    let response = try await transport.send(
                        TransportRequest(method: method, url: server.baseURL + "/\(index)", body: body)
                    )
                    #expect(response.status == 200)
                    #expect(response.header("X-Request-ID") == "req_200_test")
                }
            }
            try await group.waitForAll()
        }
        let requests = server.requests
        #expect(requests.count == 200)
        for request in requests {
            let index = Int(request.path.dropFirst())!
            if index.isMultiple(of: 2) {
                #expect(request.method == "POST" && request.body == "n=\(index)")
            } else {
                #expect(request.method == "GET" && request.body.isEmpty)
            }
        }
    }

    @Test func aTaskCancelledBeforeItSendsFailsAtOnce() async throws {
        let server = try ScriptedHTTPServer(script: [], fallback: .silent)
        defer { server.stop() }
        let transport = CurlTransport()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await transport.send(TransportRequest(method: .get, url: server.baseURL + "/never"))
        }
        let error = await #expect(throws: HTTPTransportError.self) { _ = try await task.value }
        #expect(error?.kind == .cancelled)
    }
}

/// Response headers are kept as bytes and parsed when asked for.
@Suite struct ResponseHeaderTests {
    @Test func headersAreFoundByCaseInsensitiveNameAndTrimmed() async throws {
        let server = try ScriptedHTTPServer(script: [
            .respond(status: 429, headers: ["Retry-After": "  7 ", "X-Empty": ""], body: "{}")
        ])
        defer { server.stop() }
        let response = try await CurlTransport().send(TransportRequest(method: .get, url: server.baseURL + "/"))
        #expect(response.header("retry-after") == "7")
        #expect(response.header("RETRY-AFTER") == "7")
        #expect(response.header("x-request-id") == "req_429_test")
        #expect(response.header("x-empty") == "")
        #expect(response.header("x-missing") == nil)
        #expect(response.header("retry") == nil)
        let names = response.headers.map(\.name)
        #expect(names.contains("retry-after") && names.contains("content-type") && names.contains("x-request-id"))
        #expect(names.allSatisfy { $0 == $0.lowercased() })
    }

    @Test func responsesMadeByHandKeepTheirHeaders() {
        var response = TransportResponse(status: 200, headers: [("x-request-id", "req_1")], body: [])
        #expect(response.header("X-Request-Id") == "req_1")
        response.headers = [("retry-after", "3")]
        #expect(response.header("x-request-id") == nil)
        #expect(response.header("retry-after") == "3")
    }
}
