import EnvelopeCrypto
import LocalVault
import Testing
import VaultHTTP

/// Short retries and timeouts, so that fault tests take milliseconds instead of seconds.
enum TestRetry {
    static let fast = RetryPolicy(
        maxRetries: 2,
        baseDelay: .milliseconds(5),
        maxBackoff: .milliseconds(20),
        maxRetryAfter: .milliseconds(20)
    )
}

/// The associated data the vault gives a provider: context pair and environment.
enum TestContext {
    static let associatedData = Array("organization_id=org_abc\u{0}environment_test".utf8)
    static let otherAssociatedData = Array("organization_id=org_def\u{0}environment_test".utf8)
}

/// Every error message and description a test saw, checked for secrets at the end.
func expectNoSecrets(in error: (any Error)?, secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    guard let error else { return }
    let texts = ["\(error)", String(describing: error), String(reflecting: error)]
    for secret in secrets where !secret.isEmpty {
        for text in texts {
            #expect(!text.contains(secret), "an error leaks a secret", sourceLocation: sourceLocation)
        }
    }
}

extension DataKey {
    var bytes: [UInt8] { withUnsafeBytes { [UInt8]($0) } }
}
