import Foundation
import VaultAPI
import WorkOSVault

/// What the doctor's canaries are made of: random, never printed, recognisable in tests.
enum DoctorCanary {
    /// A unique object name, so that runs in parallel or after a failed cleanup never collide.
    static func objectName() -> String { "vault-doctor-\(UUID().uuidString.lowercased())" }

    /// A random text of 128 random bits, labelled so that a test can tell it was never printed.
    static func secretText(_ label: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }
        return "doctor-canary-\(label):" + random.joined()
    }
}

/// Runs one step's call. A failure is recorded under `name` (message and exit code of the
/// ``VaultError``; other errors, which could quote anything, only by their kind).
/// - Parameter decrypting: the call unwraps keys it was given (see ``ExitStatus``).
/// - Returns: the call's result, or nil when it failed.
func doctorAttempt<Result>(
    _ report: DoctorReport,
    _ name: String,
    _ what: String,
    decrypting: Bool = false,
    _ body: () async throws -> Result
) async -> Result? {
    do {
        return try await body()
    } catch let error as VaultError {
        report.fail(name, what, error, decrypting: decrypting)
    } catch is CancellationError {
        report.fail(name, "\(what): cancelled", exitCode: 5)
    } catch {
        report.fail(name, "\(what): unexpected \(type(of: error))", exitCode: 5)
    }
    return nil
}

extension KeyContext {
    /// `k=v k=v`, sorted: how the doctor names the context it checks (contexts are not secrets).
    var doctorText: String { sortedPairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
}
