import Foundation
import VaultAPI

/// Read, change, write back, and start over when someone else wrote first: the guide's
/// version-conflict recovery ("fetch latest version, reapply changes, retry update with new
/// version number") as one call.
extension Vault {
    /// Replaces an object's value with `transform` of its current value, without losing a
    /// concurrent write: the update carries the version it read as its version check, and when
    /// another writer got there first (``VaultError/Code-swift.struct/versionConflict``), the
    /// object is read again and `transform` applied again, after a short jittered pause that
    /// grows with each attempt (at most 200 ms).
    ///
    /// `transform` may run several times, each time with the latest value; it should only
    /// compute the new value. This is this project's addition to the WorkOS client API; it works
    /// against any backend.
    /// - Parameters:
    ///   - name: the object's name.
    ///   - context: when given, only an object of exactly this context is read and updated (see
    ///     ``readObject(id:context:)``).
    ///   - maxAttempts: how many times to read and write at most; at least 1.
    ///   - transform: the new value, from the current one.
    /// - Returns: the object's metadata after the update.
    /// - Throws: ``VaultError``: ``VaultError/Code-swift.struct/versionConflict`` when the last
    ///   attempt still lost to another writer, ``VaultError/Code-swift.struct/badRequest`` for
    ///   `maxAttempts` below 1; any error of the read, of `transform` or of the update, as is.
    @discardableResult
    public func modifyObject(
        named name: String,
        context: KeyContext? = nil,
        maxAttempts: Int = 5,
        _ transform: @Sendable (String) async throws -> String
    ) async throws -> ObjectWithoutValue {
        try await modify(maxAttempts: maxAttempts, context: context, transform) {
            try await readObject(named: name, context: context)
        }
    }

    /// ``modifyObject(named:context:maxAttempts:_:)`` for the object with id `id`.
    @discardableResult
    public func modifyObject(
        id: String,
        context: KeyContext? = nil,
        maxAttempts: Int = 5,
        _ transform: @Sendable (String) async throws -> String
    ) async throws -> ObjectWithoutValue {
        try await modify(maxAttempts: maxAttempts, context: context, transform) {
            try await readObject(id: id, context: context)
        }
    }

    private func modify(
        maxAttempts: Int,
        context: KeyContext?,
        _ transform: @Sendable (String) async throws -> String,
        read: () async throws -> VaultObject
    ) async throws -> ObjectWithoutValue {
        guard maxAttempts >= 1 else { throw VaultError(.badRequest, "maxAttempts must be at least 1") }
        var attempt = 1
        while true {
            let current = try await read()
            guard let versionID = current.metadata.versionID else {
                // Without it the update could not be made conditional: it might lose a write.
                throw VaultError(.badRequest, "the object's metadata has no version_id to check the update against")
            }
            let value = try await transform(current.value)
            do {
                return try await updateObject(id: current.id, value: value, versionCheck: versionID, context: context)
            } catch let error as VaultError where error.code == .versionConflict && attempt < maxAttempts {
                try await Task.sleep(for: Self.conflictBackoff(attempt: attempt))
                attempt += 1
            }
        }
    }

    /// A random pause in the upper half of 10 ms × 2^(attempt−1), capped at 200 ms: writers that
    /// collided spread out instead of colliding again.
    static func conflictBackoff(attempt: Int) -> Duration {
        let ceiling = min(10 << min(attempt - 1, 5), 200)
        return .milliseconds(Int.random(in: (ceiling / 2)...ceiling))
    }
}
