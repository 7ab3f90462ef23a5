import NIOCore
import NIOHTTP1

/// Sits right behind the HTTP/1 decoder and tells ``ConnectionGuardHandler`` where requests and
/// responses begin and end. A decoder error while no request is in progress (a bad request
/// line, a bad header name, too many or too large header fields) goes to the guard, which
/// answers it with the Vault JSON error; one in the middle of a body goes on to the application,
/// whose body read then fails with it (a client fault, answered 400).
final class RequestProgressHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Request heads decoded whose responses are not written in full yet.
    private var unansweredRequests = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            unansweredRequests += 1
            context.triggerUserOutboundEvent(RequestProgress.headReceived, promise: nil)
        case .body:
            break
        case .end:
            context.triggerUserOutboundEvent(RequestProgress.requestReceived, promise: nil)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            unansweredRequests = max(0, unansweredRequests - 1)
            context.triggerUserOutboundEvent(RequestProgress.responseSent, promise: nil)
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError, unansweredRequests == 0 {
            context.triggerUserOutboundEvent(RequestProgress.parserError(error), promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}
