// The embedded store (the `EmbeddedStore` trait, on by default).
#if EmbeddedStore
import EnvelopeCrypto
import LocalVault
import Logging
import VaultAPI

/// Keys from the LocalVault engine in this process: no HTTP, no network.
public struct EmbeddedKEKResolver: KEKResolver {
    let vault: LocalVault
    let environmentID: String

    public init(vault: LocalVault, environmentID: String = LocalVault.defaultEnvironmentID) {
        self.vault = vault
        self.environmentID = environmentID
    }

    public func newDataKey(for context: KeyContext, logger: Logger?) async throws -> ResolvedDataKey {
        let issued = try await embedded {
            try await vault.createDataKey(context: context, environmentID: environmentID)
        }
        return ResolvedDataKey(id: issued.id, key: issued.key, encryptedKeys: issued.encryptedKeys)
    }

    public func dataKey(forEncryptedKeys encryptedKeys: [UInt8], logger: Logger?) async throws -> ResolvedDataKey {
        let unwrapped = try await embedded {
            try await vault.decryptDataKey(encryptedKeys: encryptedKeys, environmentID: environmentID)
        }
        return ResolvedDataKey(id: unwrapped.id, key: unwrapped.key, encryptedKeys: encryptedKeys)
    }

    public func rekey(encryptedKeys: [UInt8], to context: KeyContext, logger: Logger?) async throws -> ResolvedDataKey {
        let issued = try await embedded {
            try await vault.rekey(encryptedKeys: encryptedKeys, context: context, environmentID: environmentID)
        }
        return ResolvedDataKey(id: issued.id, key: issued.key, encryptedKeys: issued.encryptedKeys)
    }
}

/// Runs an engine call and maps its error to the client's.
func embedded<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
    do {
        return try await body()
    } catch let error as LocalVaultError {
        throw VaultError(error)
    } catch {
        // The store's own failures (a full disk, a store out of reach) pass through the engine.
        guard let failure = LocalVaultError(storageFailure: error) else { throw error }
        throw VaultError(failure)
    }
}

extension VaultError {
    init(_ error: LocalVaultError) {
        let code: Code
        switch error.kind {
        case .invalidRequest: code = .badRequest
        case .unprocessable: code = error.rule == .keyContext ? .invalidKeyContext : .badRequest
        case .notFound: code = .notFound
        case .contentTooLarge: code = .payloadTooLarge
        case .conflict: code = error.rule == .versionCheck ? .versionConflict : .conflict
        case .insufficientPermissions: code = .authorization
        case .internalError, .unavailable: code = .serverError
        }
        self.init(code, error.message, httpStatus: error.httpStatus)
    }
}
#endif
