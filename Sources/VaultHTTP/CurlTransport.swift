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
    /// A PEM file of the certificate authorities to trust instead of the system's bundle; nil
    /// for the system's.
    public let caFile: String?
    private let loop: CurlLoop

    /// Starts the transfer thread.
    /// - Parameters:
    ///   - maxResponseBytes: the cap on response bodies (default 16 MiB).
    ///   - caFile: a PEM file of the certificate authorities to trust (such as a private CA
    ///     that signed a `vault serve --tls-cert`); nil for the system's bundle. Verification
    ///     stays on either way.
    public init(maxResponseBytes: Int = 16 << 20, caFile: String? = nil) {
        self.maxResponseBytes = maxResponseBytes
        self.caFile = caFile
        loop = CurlLoop(caFile: caFile)
    }

    deinit { loop.stop() }

    /// Sends a request and waits for the response, honouring task cancellation.
    /// - Throws: ``HTTPTransportError`` when no HTTP response arrived.
    public func send(_ request: TransportRequest) async throws -> TransportResponse {
        guard request.url.hasPrefix("https://") || request.url.hasPrefix("http://") else {
            throw HTTPTransportError(.invalidURL, "only http and https URLs are allowed")
        }
        let transfer = Transfer(request: request, maxResponseBytes: maxResponseBytes)
        return try await withTaskCancellationHandler {
            // Unsafe rather than checked: the loop thread resumes each transfer exactly once
            // (`Transfer.resume` clears the continuation), and the checked wrapper costs an
            // allocation per request.
            try await withUnsafeThrowingContinuation { continuation in
                transfer.continuation = continuation
                loop.submit(transfer)
            }
        } onCancel: {
            loop.cancel(transfer)
        }
    }
}

/// One request in flight: the buffers libcurl writes into and the continuation to resume. Owned
/// by the loop thread once submitted, apart from `cancelRequested`.
final class Transfer: @unchecked Sendable {
    let request: TransportRequest
    let maxResponseBytes: Int
    var continuation: UnsafeContinuation<TransportResponse, any Error>?
    var easy: EasyHandle?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var responseBody: [UInt8] = []
    /// The `Name: value\r\n` lines of the last response; parsed only when a header is asked for.
    var headerBlock: [UInt8] = []
    var tooLarge = false
    /// Set by a cancellation that may come before the loop has seen the submission.
    let cancelRequested = Atomic<Bool>(false)
    /// libcurl reads the body through a raw pointer during the transfer, so it lives in an
    /// allocation of its own that stays put until the transfer is freed.
    let body: UnsafeMutableRawBufferPointer

    init(request: TransportRequest, maxResponseBytes: Int) {
        self.request = request
        self.maxResponseBytes = maxResponseBytes
        let bodyBytes = request.body ?? []
        body = .allocate(byteCount: max(1, bodyBytes.count), alignment: 1)
        body.copyBytes(from: bodyBytes)
    }

    deinit {
        body.deallocate()
        curl_slist_free_all(headerList)
    }

    func resume(with result: Result<TransportResponse, any Error>) {
        continuation?.resume(with: result)
        continuation = nil
    }
}

/// A curl easy handle and its error buffer, kept between requests: `curl_easy_reset` clears every
/// option (nothing of one request reaches the next) but keeps the allocations, which made up a
/// tenth of the client's time when each request made and freed its own handle. Connections live
/// in the multi handle's cache either way. Used on the loop thread only.
final class EasyHandle {
    let raw: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        guard let raw = curl_easy_init() else { return nil }
        self.raw = raw
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    /// Back to libcurl's defaults, ready for another request.
    func reset() {
        curl_easy_reset(raw)
        errorBuffer[0] = 0
    }

    deinit {
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }
}

/// The thread that drives `curl_multi`.
final class CurlLoop: Sendable {
    private struct Inbox {
        var submitted: [Transfer] = []
        var cancelled: [Transfer] = []
        var stopping = false
        /// The loop is in (or about to enter) `curl_multi_poll` and nobody has woken it yet. While
        /// it is awake it sees the inbox before it sleeps, so a submission needs no wake-up call.
        var sleeping = false

        /// Whether the caller must wake the loop; at most one caller does per sleep.
        mutating func takeWakeUp() -> Bool {
            defer { sleeping = false }
            return sleeping
        }
    }

    /// Idle handles kept for reuse, as many as connections the multi handle keeps.
    private static let maxIdleHandles = 64

    private let inbox = Mutex(Inbox())
    nonisolated(unsafe) private let multi: UnsafeMutableRawPointer
    nonisolated(unsafe) private let share: UnsafeMutableRawPointer?
    /// `CURLOPT_CAINFO` of every transfer; nil for libcurl's default bundle.
    private let caFile: String?

    init(caFile: String? = nil) {
        self.caFile = caFile
        _ = curlGlobalInit
        multi = curl_multi_init()
        share = curl_share_init()
        if let share {
            // Only the loop thread touches the share handle, so it needs no lock callbacks.
            _ = vault_curl_share_setopt_long(share, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_DNS.rawValue))
            _ = vault_curl_share_setopt_long(share, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue))
        }
        _ = vault_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, Self.maxIdleHandles)
        // Requests beyond this wait in libcurl's queue rather than opening ever more sockets to one
        // server (over HTTP/2 they share connections anyway).
        _ = vault_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32)
        let thread = Thread { [self] in run() }
        thread.name = "vault-curl"
        thread.start()
    }

    func submit(_ transfer: Transfer) {
        let wake = inbox.withLock { inbox in
            inbox.submitted.append(transfer)
            return inbox.takeWakeUp()
        }
        if wake { curl_multi_wakeup(multi) }
    }

    func cancel(_ transfer: Transfer) {
        transfer.cancelRequested.store(true, ordering: .releasing)
        let wake = inbox.withLock { inbox in
            inbox.cancelled.append(transfer)
            return inbox.takeWakeUp()
        }
        if wake { curl_multi_wakeup(multi) }
    }

    func stop() {
        inbox.withLock { $0.stopping = true }
        curl_multi_wakeup(multi)
    }

    private func run() {
        var active: [ObjectIdentifier: Transfer] = [:]
        var idle: [EasyHandle] = []
        // Swapped with the inbox's arrays, so neither side allocates in the steady state.
        var submitted: [Transfer] = []
        var cancelled: [Transfer] = []
        var finished: [(Transfer, Result<TransportResponse, any Error>)] = []
        while true {
            let stopping = inbox.withLock { inbox in
                swap(&submitted, &inbox.submitted)
                swap(&cancelled, &inbox.cancelled)
                inbox.sleeping = false
                return inbox.stopping
            }
            for transfer in submitted {
                if transfer.cancelRequested.load(ordering: .acquiring) {
                    finished.append((transfer, .failure(HTTPTransportError(.cancelled, "the request was cancelled"))))
                    continue
                }
                do {
                    try start(transfer, idle: &idle)
                    active[ObjectIdentifier(transfer)] = transfer
                } catch {
                    release(transfer, idle: &idle)
                    finished.append((transfer, .failure(error)))
                }
            }
            submitted.removeAll(keepingCapacity: true)
            // A cancellation seen before its submission was handled above, through the flag.
            for transfer in cancelled {
                guard active.removeValue(forKey: ObjectIdentifier(transfer)) != nil else { continue }
                release(transfer, idle: &idle)
                finished.append((transfer, .failure(HTTPTransportError(.cancelled, "the request was cancelled"))))
            }
            cancelled.removeAll(keepingCapacity: true)
            if stopping {
                for transfer in active.values {
                    release(transfer, idle: &idle)
                    finished.append(
                        (transfer, .failure(HTTPTransportError(.cancelled, "the transport was shut down")))
                    )
                }
                resumeAll(&finished)
                idle.removeAll()  // frees the handles before the share they were attached to
                curl_multi_cleanup(multi)
                if let share { curl_share_cleanup(share) }
                return
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                var context: UnsafeMutableRawPointer?
                guard vault_curl_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &context) == CURLE_OK, let context
                else { continue }
                let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                guard active.removeValue(forKey: ObjectIdentifier(transfer)) != nil else { continue }
                let outcome = result(of: transfer, code: message.pointee.data.result)
                release(transfer, idle: &idle)
                finished.append((transfer, outcome))
            }
            // Resumed together once libcurl's work for this turn is done, so that sending the
            // requests already queued never waits behind the callers' work.
            resumeAll(&finished)
            let sleep = inbox.withLock { inbox in
                guard inbox.submitted.isEmpty, inbox.cancelled.isEmpty, !inbox.stopping else { return false }
                inbox.sleeping = true
                return true
            }
            if sleep { curl_multi_poll(multi, nil, 0, 1000, nil) }
        }
    }

    private func resumeAll(_ finished: inout [(Transfer, Result<TransportResponse, any Error>)]) {
        for (transfer, outcome) in finished { transfer.resume(with: outcome) }
        finished.removeAll(keepingCapacity: true)
    }

    private func start(_ transfer: Transfer, idle: inout [EasyHandle]) throws {
        guard let handle = idle.popLast() ?? EasyHandle() else {
            throw HTTPTransportError(.other, "curl_easy_init failed")
        }
        transfer.easy = handle
        let easy = handle.raw
        let request = transfer.request
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        var ok = vault_curl_easy_setopt_string(easy, CURLOPT_URL, request.url) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2) == CURLE_OK
        if let caFile { ok = ok && vault_curl_easy_setopt_string(easy, CURLOPT_CAINFO, caFile) == CURLE_OK }
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, milliseconds(request.timeout)) == CURLE_OK
        ok =
            ok
            && vault_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(request.connectTimeout))
                == CURLE_OK
        ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method.rawValue) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK
        ok = ok && vault_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, handle.errorBuffer) == CURLE_OK
        ok = ok && vault_curl_easy_setopt_pointer(easy, CURLOPT_PRIVATE, context) == CURLE_OK
        if let share { ok = ok && vault_curl_easy_setopt_share(easy, share) == CURLE_OK }
        if request.method == .head { ok = ok && vault_curl_easy_setopt_long(easy, CURLOPT_NOBODY, 1) == CURLE_OK }
        if let body = request.body {
            // POSTFIELDS does not copy: the transfer keeps `body` alive until it finishes.
            let count = curl_off_t(body.count)
            ok = ok && vault_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, count) == CURLE_OK
            ok = ok && vault_curl_easy_setopt_pointer(easy, CURLOPT_POSTFIELDS, transfer.body.baseAddress) == CURLE_OK
        }
        // Expect: 100-continue would add a round trip to every POST over a few KiB.
        var headers: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Expect:")
        for (name, value) in request.headers {
            headers = curl_slist_append(headers, name + ": " + value)
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

    /// Detaches the transfer's handle from the multi handle and keeps it for the next request.
    private func release(_ transfer: Transfer, idle: inout [EasyHandle]) {
        guard let handle = transfer.easy else { return }
        transfer.easy = nil
        curl_multi_remove_handle(multi, handle.raw)
        handle.reset()
        if idle.count < Self.maxIdleHandles { idle.append(handle) }
        curl_slist_free_all(transfer.headerList)
        transfer.headerList = nil
    }

    private func result(of transfer: Transfer, code: CURLcode) -> Result<TransportResponse, any Error> {
        guard let handle = transfer.easy else { return .failure(HTTPTransportError(.other, "no handle")) }
        let easy = handle.raw
        guard code == CURLE_OK else {
            if transfer.tooLarge {
                return .failure(
                    HTTPTransportError(
                        .responseTooLarge,
                        "the response body exceeds \(transfer.maxResponseBytes) bytes"
                    )
                )
            }
            let detail = String(cString: handle.errorBuffer)
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
            TransportResponse(
                status: status,
                headerBlock: transfer.headerBlock,
                body: transfer.responseBody,
                newConnections: connects,
                httpVersion: version == Int(CURL_HTTP_VERSION_2_0) ? "2" : "1.1"
            )
        )
    }

    private static func kind(of code: CURLcode) -> HTTPTransportError.Kind {
        switch code {
        case CURLE_OPERATION_TIMEDOUT: .timeout
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: .invalidURL
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_RECV_ERROR,
            CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_SSL_CONNECT_ERROR,
            CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_WEIRD_SERVER_REPLY:
            .connection
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE: .certificate
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

/// Keeps the header lines as bytes; strings are made only for the headers a caller asks for.
private let writeHeader: vault_curl_data_callback = { data, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    guard let data, length > 2 else { return length }  // the blank line that ends the block
    let line = UnsafeRawBufferPointer(start: data, count: length)
    if line.starts(with: "HTTP/".utf8) {
        transfer.headerBlock.removeAll(keepingCapacity: true)  // a new response (after 100 Continue): start over
    } else {
        transfer.headerBlock.append(contentsOf: line)
    }
    return length
}
