/// One attempt of ``CurlTransport/send(_:retry:isRetriable:onAttempt:)``, for the caller's logs.
package struct RetryAttempt: Sendable {
    /// 1 for the first attempt.
    package var number: Int
    package var outcome: Result<TransportResponse, HTTPTransportError>
    package var duration: Duration
}

extension CurlTransport {
    /// Sends `request`, retrying as `policy` says: the responses `isRetriable` accepts, timeouts
    /// and lost connections. Returns the last response, whatever its status.
    /// - Throws: the last ``HTTPTransportError`` when no response arrived after the retries;
    ///   `CancellationError` when the task was cancelled.
    package func send(
        _ request: TransportRequest,
        retry policy: RetryPolicy,
        isRetriable: (TransportResponse) -> Bool = { RetryPolicy.retriedStatuses.contains($0.status) },
        onAttempt: (RetryAttempt) -> Void = { _ in }
    ) async throws -> TransportResponse {
        var attempt = 0
        while true {
            let started = ContinuousClock.now
            let outcome: Result<TransportResponse, HTTPTransportError>
            do {
                outcome = .success(try await send(request))
            } catch let error as HTTPTransportError {
                if error.kind == .cancelled { throw CancellationError() }
                outcome = .failure(error)
            }
            onAttempt(RetryAttempt(number: attempt + 1, outcome: outcome, duration: ContinuousClock.now - started))
            let retryAfter: String?
            switch outcome {
            case .success(let response):
                guard isRetriable(response), attempt < policy.maxRetries else { return response }
                retryAfter = response.header("retry-after")
            case .failure(let error):
                guard error.kind == .timeout || error.kind == .connection, attempt < policy.maxRetries else {
                    throw error
                }
                retryAfter = nil
            }
            try await Task.sleep(for: policy.delay(beforeRetry: attempt, retryAfterHeader: retryAfter))
            attempt += 1
        }
    }
}
