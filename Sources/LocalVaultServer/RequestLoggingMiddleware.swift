import Foundation
import Hummingbird
import LocalVault
import Logging

/// The outermost middleware: turns anything thrown into the JSON error response, returns the
/// request id in `x-request-id`, and logs one line per request with the method, the route
/// template (never the raw path, which holds names and ids), the status, the duration and the
/// request id. Bodies, headers, keys and names are never logged.
struct RequestLoggingMiddleware: RouterMiddleware {
    typealias Context = VaultRequestContext

    static let requestIDField = HTTPFieldName("x-request-id")!

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
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3
        context.logger.info(
            "\(request.method) \(context.endpointPath ?? "unmatched") \(response.status.code) \(String(format: "%.1f", milliseconds))ms"
        )
        return response
    }

    /// The response for a thrown error; server faults are logged by type (their descriptions may
    /// hold more than the engine's own messages, which never quote values).
    static func response(for error: any Error, logger: Logger) -> Response {
        let (apiError, isServerFault) = ErrorMapping.apiError(for: error)
        if isServerFault {
            let detail = (error as? LocalVaultError)?.message ?? String(describing: type(of: error))
            logger.error("request failed", metadata: ["error": "\(detail)"])
        }
        return JSONResponse.make(apiError)
    }
}
