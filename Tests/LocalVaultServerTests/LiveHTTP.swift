import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore

/// One request to a live server on 127.0.0.1, on a connection of its own.
func liveRequest(
    port: Int,
    _ method: HTTPRequest.Method,
    _ path: String,
    key: String? = nil,
    json: String? = nil,
    headers extra: HTTPFields = [:]
) async throws -> (status: Int, body: String, headers: HTTPFields) {
    try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
        var headers = extra
        if let key { headers[.authorization] = "Bearer \(key)" }
        if json != nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(
            TestClient.Request(path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        )
        return (response.status.code, response.body.map { String(buffer: $0) } ?? "", response.headers)
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; the last answer.
func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
