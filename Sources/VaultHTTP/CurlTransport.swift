internal import CLibcurl
import Foundation
import Synchronization

/// HTTP over libcurl, for the Vault client.
///
/// One `curl_multi` handle runs on a thread of its own: Swift-concurrency threads only enqueue
/// requests and await their continuations, so no libcurl call ever blocks them. Connections are
/// kept alive and reused across requests (and multiplexed over HTTP/2 when the server offers it);
/// a share handle keeps DNS answers and TLS sessions. TLS verification is always on, only http and
/// https are allowed, redirects are never followed, and every request has a connect and a total
/// timeout. Many requests can be in flight at once.
public final class CurlTransport: Sendable {
    /// The largest response body accepted; a larger one fails with ``HTTPTransportError/Kind-swift.enum/responseTooLarge``.
    public let maxResponseBytes: Int
    private let loop: CurlLoop

    /// Starts the transfer thread.
    /// - Parameter maxResponseBytes: the cap on response bodies (default 16 MiB).
    public init(maxResponseBytes: Int = 16 << 20) {
        self.maxResponseBytes = maxResponseBytes
        loop = CurlLoop()
    }

    deinit { loop.stop() }

    /// Sends a request and waits for the response, honouring task cancellation.
    /// - Throws: ``HTTPTransportError`` when no HTTP response arrived.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard request.url.hasPrefix("https://") || request.url.hasPrefix("http://") else {
            throw HTTPTransportError(.invalidURL, "only http and https URLs are allowed")
        }
        let transfer = Transfer(request: request, maxResponseBytes: maxResponseBytes)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.continuation = continuation
                loop.submit(transfer)
            }
        } onCancel: {
            loop.cancel(transfer)
        }
    }
}

/// One request in flight: its easy handle, the buffers libcurl writes into and the continuation
/// to resume. Owned by the loop thread once submitted.
final class Transfer: @unchecked Sendable {
    let request: HTTPRequest
    let maxResponseBytes: Int
    var continuation: CheckedContinuation<HTTPResponse, any Error>?
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var responseBody: [UInt8] = []
    var responseHeaders: [(name: String, value: String)] = []
    var tooLarge = false
    /// libcurl reads the body and writes the error text through raw pointers during the transfer,
    /// so both live in allocations of their own that stay put until the transfer is freed.
    let body: UnsafeMutableRawBufferPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    init(request: HTTPRequest, maxResponseBytes: Int) {
        self.request = request
        self.maxResponseBytes = maxResponseBytes
        let bodyBytes = request.body ?? []
        body = .allocate(byteCount: max(1, bodyBytes.count), alignment: 1)
        body.copyBytes(from: bodyBytes)
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        body.deallocate()
        errorBuffer.deallocate()
    }

    func resume(with result: Result<HTTPResponse, any Error>) {
        continuation?.resume(with: result)
        continuation = nil
    }
}

/// The thread that drives `curl_multi`.
final class CurlLoop: Sendable {
    private struct Inbox {
        var submitted: [Transfer] = []
        var cancelled: [ObjectIdentifier] = []
        var stopping = false
    }

    private let inbox = Mutex(Inbox())
    nonisolated(unsafe) private let multi: UnsafeMutableRawPointer
    nonisolated(unsafe) private let share: UnsafeMutableRawPointer?

    init() {
        _ = curlGlobalInit
        multi = curl_multi_init()
        share = curl_share_init()
        if let share {
            // Only the loop thread touches the share handle, so it needs no lock callbacks.
            _ = vault_curl_share_setopt_long(share, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_DNS.rawValue))
            _ = vault_curl_share_setopt_long(share, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue))
        }
        _ = vault_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 64)
        // Requests beyond this wait in libcurl's queue rather than opening ever more sockets to one
        // server (over HTTP/2 they share connections anyway).
        _ = vault_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32)
        let thread = Thread { [self] in run() }
        thread.name = "vault-curl"
        thread.start()
    }

    func submit(_ transfer: Transfer) {
        inbox.withLock { $0.submitted.append(transfer) }
        curl_multi_wakeup(multi)
    }

    func cancel(_ transfer: Transfer) {
        inbox.withLock { $0.cancelled.append(ObjectIdentifier(transfer)) }
        curl_multi_wakeup(multi)
    }

    func stop() {
        inbox.withLock { $0.stopping = true }
        curl_multi_wakeup(multi)
    }

    private func run() {
        var active: [ObjectIdentifier: Transfer] = [:]
        while true {
            let (submitted, cancelled, stopping) = inbox.withLock { inbox in
                defer {
                    inbox.submitted.removeAll()
                    inbox.cancelled.removeAll()
                }
                return (inbox.submitted, inbox.cancelled, inbox.stopping)
            }
            for transfer in submitted {
                do {
                    try start(transfer)
                    active[ObjectIdentifier(transfer)] = transfer
                } catch {
                    finish(transfer, with: .failure(error))
                }
            }
            // A cancellation can arrive before its submission was seen: check both orders.
            for id in cancelled {
                if let transfer = active.removeValue(forKey: id) {
                    finish(transfer, with: .failure(HTTPTransportError(.cancelled, "the request was cancelled")))
                } else if let early = submitted.first(where: { ObjectIdentifier($0) == id }) {
                    finish(early, with: .failure(HTTPTransportError(.cancelled, "the request was cancelled")))
                }
            }
            if stopping {
                for transfer in active.values {
                    finish(transfer, with: .failure(HTTPTransportError(.cancelled, "the transport was shut down")))
                }
                curl_multi_cleanup(multi)
                if let share { curl_share_cleanup(share) }
                return
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let code = message.pointee.data.result
                guard let entry = active.first(where: { $0.value.easy == easy }) else { continue }
                active.removeValue(forKey: entry.key)
                finish(entry.value, with: result(of: entry.value, code: code))
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    private func start(_ transfer: Transfer) throws {
        guard let easy = curl_easy_init() else { throw HTTPTransportError(.other, "curl_easy_init failed") }
        transfer.easy = easy
        let request = transfer.request
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        var ok = vault_curl_easy_setopt_string(easy, CURLOPT_URL, request.url) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, milliseconds(request.timeout)) == CURLE_OK
        ok =
            ok
            && vault_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(request.connectTimeout))
                == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK
        ok = ok && vault_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, transfer.errorBuffer) == CURLE_OK
        if let share { ok = ok && vault_curl_easy_setopt_share(easy, share) == CURLE_OK }
        if request.method == "HEAD" { ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_NOBODY, 1) == CURLE_OK }
        if request.body != nil {
            // POSTFIELDS does not copy: the transfer keeps `body` alive until it finishes.
            let count = curl_off_t(request.body?.count ?? 0)
            ok = ok && vault_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, count) == CURLE_OK
            ok = ok && vault_curl_easy_setopt_pointer(easy, CURLOPT_POSTFIELDS, transfer.body.baseAddress) == CURLE_OK
        }
        // Expect: 100-continue would add a round trip to every POST over a few KiB.
        var headers: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Expect:")
        for (name, value) in request.headers {
            headers = curl_slist_append(headers, "\(name): \(value)")
        }
        transfer.headerList = headers
        ok = ok && vault_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headers) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, writeBody) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, writeHeader) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context) == CURLE_OK
        guard ok, curl_multi_add_handle(multi, easy) == CURLM_OK else {
            throw HTTPTransportError(.invalidURL, "libcurl refused the request options")
        }
    }

    private func result(of transfer: Transfer, code: CURLcode) -> Result<HTTPResponse, any Error> {
        guard let easy = transfer.easy else { return .failure(HTTPTransportError(.other, "no handle")) }
        guard code == CURLE_OK else {
            if transfer.tooLarge {
                return .failure(
                    HTTPTransportError(
                        .responseTooLarge,
                        "the response body exceeds \(transfer.maxResponseBytes) bytes"
                    )
                )
            }
            let detail = String(cString: transfer.errorBuffer)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            return .failure(HTTPTransportError(Self.kind(of: code), message))
        }
        var status = 0
        _ = vault_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var connects = 0
        _ = vault_curl_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
        var version = 0
        _ = vault_curl_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version)
        return .success(
            HTTPResponse(
                status: status,
                headers: transfer.responseHeaders,
                body: transfer.responseBody,
                newConnections: connects,
                httpVersion: version == Int(CURL_HTTP_VERSION_2_0) ? "2" : "1.1"
            )
        )
    }

    private func finish(_ transfer: Transfer, with result: Result<HTTPResponse, any Error>) {
        if let easy = transfer.easy {
            curl_multi_remove_handle(multi, easy)
            curl_easy_cleanup(easy)
            transfer.easy = nil
        }
        curl_slist_free_all(transfer.headerList)
        transfer.headerList = nil
        transfer.resume(with: result)
    }

    private static func kind(of code: CURLcode) -> HTTPTransportError.Kind {
        switch code {
        case CURLE_OPERATION_TIMEDOUT: .timeout
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: .invalidURL
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_RECV_ERROR,
            CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_SSL_CONNECT_ERROR,
            CURLE_PEER_FAILED_VERIFICATION, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_WEIRD_SERVER_REPLY:
            .connection
        default: .other
        }
    }

    private func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}

/// `curl_global_init` is not thread-safe: run it once, before the first handle.
private let curlGlobalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

private let writeBody: vault_curl_data_callback = { data, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    guard transfer.responseBody.count + length <= transfer.maxResponseBytes else {
        transfer.tooLarge = true
        return 0  // aborts the transfer with CURLE_WRITE_ERROR
    }
    if let data { transfer.responseBody.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length)) }
    return length
}

private let writeHeader: vault_curl_data_callback = { data, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    guard let data else { return length }
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        transfer.responseHeaders.removeAll()  // a new response (after 100 Continue): start over
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        transfer.responseHeaders.append((name, value))
    }
    return length
}
