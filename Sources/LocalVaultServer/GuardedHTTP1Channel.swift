import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOHTTP1

/// Hummingbird's HTTP/1 channel with ``ConnectionGuardHandler`` in front of the HTTP decoder
/// (where the first byte of a request is seen, long before a head is decoded) and
/// ``RequestProgressHandler`` right behind it (where request and response boundaries and
/// decoder errors are seen).
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let limits: ConnectionLimits
    let registry: ConnectionRegistry?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(
                ConnectionGuardHandler(
                    limits: limits,
                    maxRequestLineLength: base.configuration.httpDecoder.maxHeaderFieldSize,
                    registry: registry,
                    logger: logger
                )
            )
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(RequestProgressHandler(), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with the connection limits of `vault serve`.
    /// - Parameters:
    ///   - limits: the timeouts.
    ///   - registry: the open connections, for the cap; `nil` for none.
    ///   - decoderLimits: the largest request line and header fields accepted.
    ///   - tls: when set, TLS in front of it all: the guard then sees decrypted bytes, and a
    ///     handshake that stalls is an idle connection.
    static func guardedHTTP1(
        limits: ConnectionLimits,
        registry: ConnectionRegistry?,
        decoderLimits: HTTP1Channel.Configuration.DecoderConfiguration,
        tls: ServerTLS? = nil
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            let channel = GuardedHTTP1Channel(
                base: HTTP1Channel(
                    responder: responder,
                    configuration: HTTP1Channel.Configuration(httpDecoderConfiguration: decoderLimits)
                ),
                limits: limits,
                registry: registry
            )
            guard let tls else { return channel }
            return try TLSChannel(channel, tlsConfiguration: tls.configuration)
        }
    }
}
