import Foundation
import Hummingbird
import LocalVault
import Logging
import NIOCore
import NIOHTTP1

/// The outermost middleware: turns anything thrown into the JSON error response, returns the
/// request id in `x-request-id`, and logs one line per request with the method, the route
/// template (never the raw path, which holds names and ids), the status, the duration, the
/// request id and the actor id (the API key's id, never the key). Bodies, headers, keys and
/// names are never logged. With metrics on, it counts the request there too.
struct RequestLoggingMiddleware: RouterMiddleware {
    typealias Context = VaultRequestContext

    static let requestIDField = HTTPFieldName("x-request-id")!

    /// Where requests are counted; nil without `--metrics`.
    var metrics: HTTPMetrics? = nil

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = Self.response(for: error, logger: context.logger)
        }
        // Hummingbird's id for the request, which its own log lines carry (`context.id` would
        // trap under a log handler that drops metadata).
        let requestID = context.logger[metadataKey: "hb.request.id"].map { "\($0)" } ?? RequestID().description
        response.headers[Self.requestIDField] = requestID
        let route = context.endpointPath ?? "unmatched"
        let elapsed = ContinuousClock.now - start
        metrics?.record(method: request.method.rawValue, route: route, status: response.status.code, elapsed: elapsed)
        context.logger.info(
            Logger.Message(
                stringLiteral: Self.line(
                    method: request.method.rawValue,
                    route: route,
                    status: response.status.code,
                    elapsed: elapsed
                )
            ),
            metadata: context.actor.id.map { ["actor_id": .string($0)] }
        )
        return response
    }

    /// `POST /vault/v1/keys/decrypt 200 0.3ms`: appended piece by piece, since the interpolation
    /// and `String(format:)` this replaced showed in the profile.
    static func line(method: String, route: String, status: Int, elapsed: Duration) -> String {
        // Tenths of a millisecond, rounded half up.
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        let tenths = max(0, (nanoseconds + 50_000) / 100_000)
        var line = ""
        line.reserveCapacity(method.utf8.count + route.utf8.count + 24)
        line += method
        line += " "
        line += route
        line += " "
        line += String(status)
        line += " "
        line += String(tenths / 10)
        line += "."
        line += String(tenths % 10)
        line += "ms"
        return line
    }

    /// The response for a thrown error; server faults are logged by type (their descriptions may
    /// hold more than the engine's own messages, which never quote values). A request that
    /// broke off (malformed chunked framing, a client gone mid-body) is the client's fault: 400,
    /// logged at debug level.
    static func response(for error: any Error, logger: Logger) -> Response {
        if let clientFault = clientFault(error) {
            logger.debug("request not read: \(clientFault.reason)")
            return JSONResponse.make(clientFault.error)
        }
        let (apiError, isServerFault) = ErrorMapping.apiError(for: error)
        if isServerFault {
            let detail =
                (error as? LocalVaultError ?? LocalVaultError(storageFailure: error))?.message
                ?? String(describing: type(of: error))
            logger.error("request failed", metadata: ["error": "\(detail)"])
        }
        return JSONResponse.make(apiError)
    }

    /// The answer to an error of the connection rather than of the service: the HTTP decoder
    /// refusing the body, or the connection ending before it was read.
    static func clientFault(_ error: any Error) -> (error: APIError, reason: String)? {
        switch error {
        case is HTTPParserError:
            return (.badRequest("the request is not valid HTTP/1.1"), "the body is not valid HTTP/1.1 or ended early")
        case let error as ChannelError:
            switch error {
            case .eof, .ioOnClosedChannel, .alreadyClosed, .inputClosed, .outputClosed:
                return (.badRequest("the request ended early"), "the connection ended")
            default:
                return nil
            }
        case let error as IOError where [ECONNRESET, EPIPE, ETIMEDOUT].contains(error.errnoCode):
            return (.badRequest("the request ended early"), "the connection ended")
        default:
            return nil
        }
    }
}
