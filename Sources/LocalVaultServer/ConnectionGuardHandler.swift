import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// What ``RequestProgressHandler`` (behind the HTTP decoder) tells ``ConnectionGuardHandler``
/// (in front of it), as outbound user events.
enum RequestProgress: Sendable {
    /// A request head was decoded: the request goes to the application.
    case headReceived
    /// A request arrived in full.
    case requestReceived
    /// A response was written in full.
    case responseSent
    /// The decoder refused bytes while no request was in progress: answer it here.
    case parserError(HTTPParserError)
}

/// The first handler of every connection: it sees the raw bytes, so it knows when a request
/// starts (its first byte, long before the decoder yields a head) and enforces the connection
/// limits:
///
/// - a request must arrive in full within the read timeout of its first byte (an incomplete
///   head gets 408, an incomplete body ends the connection);
/// - a connection without a request in progress is closed after the idle timeout;
/// - a response the client does not read for the idle timeout ends the connection;
/// - the connection is registered for the connection cap, which may close it while it waits;
/// - a request the decoder refuses before its head gets the Vault JSON error with an
///   `x-request-id` (414 for an over-long request line, 431 for too many or too large header
///   fields, 400 otherwise), then the connection closes.
///
/// Runs on the connection's event loop only. One timer at a time: it is moved only when a
/// deadline comes sooner; when it fires early it sets itself for the current deadline, so a
/// busy keep-alive connection costs no timer work per request.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private enum Expiry {
        case read, idle, stalledResponse
    }

    private let registry: ConnectionRegistry?
    private let logger: Logger
    private let readTimeout: TimeAmount
    private let idleTimeout: TimeAmount

    private var registrationID: UInt64?
    /// Request heads decoded whose responses are not written in full yet.
    private var unansweredRequests = 0
    /// The first byte of the request being read, if one is.
    private var readingSince: NIODeadline?
    /// The length of the request line of the request being read (so far, if it has not ended),
    /// for a request that started on an idle connection: tells an over-long URI from over-long
    /// header fields.
    private var requestLine: (length: Int, ended: Bool)?
    /// The longest request line the decoder accepts.
    private let maxRequestLineLength: Int
    /// Whether the request being read holds more than line ends (which clients may send
    /// between requests, and which deserve no 408).
    private var requestHasContent = false
    /// Whether the request being read has not yielded a head yet: only then does its timeout
    /// get a 408 (a request answered early, say 401 before its body, has had its answer).
    private var awaitingHead = false
    private var idleSince = NIODeadline.now()
    private var unwritableSince: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var isClosing = false

    init(limits: ConnectionLimits, maxRequestLineLength: Int, registry: ConnectionRegistry?, logger: Logger) {
        self.maxRequestLineLength = maxRequestLineLength
        self.registry = registry
        self.logger = logger
        self.readTimeout = TimeAmount(limits.readTimeout)
        self.idleTimeout = TimeAmount(limits.idleTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if readingSince == nil, bytes.readableBytes > 0 {
            readingSince = .now()
            requestLine = unansweredRequests == 0 ? (0, false) : nil
            requestHasContent = false
            awaitingHead = true
            update(context: context)
        }
        if !requestHasContent {
            requestHasContent = bytes.readableBytesView.contains {
                $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n")
            }
        }
        if var line = requestLine, !line.ended {
            let view = bytes.readableBytesView
            if let end = view.firstIndex(of: UInt8(ascii: "\n")) {
                line.length += end - view.startIndex
                line.ended = true
            } else {
                line.length += view.count
            }
            requestLine = line
        }
        context.fireChannelRead(data)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        unwritableSince = context.channel.isWritable ? nil : .now()
        update(context: context)
        context.fireChannelWritabilityChanged()
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let progress = event as? RequestProgress else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        promise?.succeed()
        switch progress {
        case .headReceived:
            unansweredRequests += 1
            requestLine = nil
            awaitingHead = false
            if let registrationID { registry?.requestStarted(registrationID) }
        case .requestReceived:
            readingSince = nil
        case .responseSent:
            unansweredRequests = max(0, unansweredRequests - 1)
            if unansweredRequests == 0 {
                idleSince = .now()
                if let registrationID { registry?.waiting(registrationID) }
            }
        case .parserError(let error):
            let uriTooLong = (requestLine?.length ?? 0) > maxRequestLineLength
            answer(Self.apiError(for: error, uriTooLong: uriTooLong), context: context)
            return
        }
        update(context: context)
    }

    // MARK: - Deadlines

    private func start(context: ChannelHandlerContext) {
        guard registrationID == nil, !isClosing else { return }
        idleSince = .now()
        let channel = context.channel
        registrationID = registry?.opened { channel.close(promise: nil) }
        update(context: context)
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        if let registrationID {
            registry?.closed(registrationID)
            self.registrationID = nil
        }
    }

    /// The next deadline and what expires then; `nil` while the application works on a request
    /// (its duration is the application's business).
    private func nextDeadline() -> (deadline: NIODeadline, expiry: Expiry)? {
        if let readingSince { return (readingSince + readTimeout, .read) }
        if unansweredRequests == 0 { return (idleSince + idleTimeout, .idle) }
        if let unwritableSince { return (unwritableSince + idleTimeout, .stalledResponse) }
        return nil
    }

    private func update(context: ChannelHandlerContext) {
        guard !isClosing, let deadline = nextDeadline()?.deadline else { return }
        if let timerDeadline, timerDeadline <= deadline { return }
        timer?.cancel()
        schedule(at: deadline, context: context)
    }

    private func schedule(at deadline: NIODeadline, context: ChannelHandlerContext) {
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        timerDeadline = nil
        guard !isClosing, let next = nextDeadline() else { return }
        guard next.deadline <= .now() else {
            schedule(at: next.deadline, context: context)
            return
        }
        switch next.expiry {
        case .read where awaitingHead && requestHasContent && unansweredRequests == 0:
            logger.debug("request head not received in time: 408, closing the connection")
            answer(
                APIError(.requestTimeout, code: "request_timeout", message: "the request did not arrive in time"),
                context: context
            )
        case .read:
            logger.debug("request not received in time: closing the connection")
            close(context: context)
        case .idle:
            logger.trace("idle connection: closing it")
            close(context: context)
        case .stalledResponse:
            logger.debug("the client does not read its response: closing the connection")
            close(context: context)
        }
    }

    // MARK: - Answers below the HTTP encoder

    private func close(context: ChannelHandlerContext) {
        isClosing = true
        timer?.cancel()
        timer = nil
        context.close(promise: nil)
    }

    /// Writes `error` as a complete response straight to the socket, then closes. Only while no
    /// response is under way, which the callers ensure.
    private func answer(_ error: APIError, context: ChannelHandlerContext) {
        guard !isClosing else { return }
        logger.debug("request refused before its head", metadata: ["status": "\(error.status.code)"])
        let bytes = RawErrorResponse.bytes(
            for: error,
            requestID: RequestID().description,
            allocator: context.channel.allocator
        )
        isClosing = true
        timer?.cancel()
        timer = nil
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(bytes))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// The answer to a request the decoder refused.
    static func apiError(for error: HTTPParserError, uriTooLong: Bool) -> APIError {
        switch error {
        case .headerOverflow where uriTooLong:
            APIError(.uriTooLong, code: "uri_too_long", message: "the request line is too long")
        case .headerOverflow:
            APIError(
                .requestHeaderFieldsTooLarge,
                code: "request_header_fields_too_large",
                message: "the request has too many header fields, or too large ones"
            )
        default:
            APIError(.badRequest, code: "invalid_request", message: "the request is not valid HTTP/1.1")
        }
    }
}
