import EnvelopeCrypto
import Foundation

/// The check that a root key is the store's own. The store keeps a random key sealed under its
/// root key (AES-256-GCM, so it proves the root key without revealing it); a root key that does
/// not open it belongs to another store. Without this a replaced `root.key` or a different
/// `VAULT_ROOT_KEY` would start, fail on all old data and write new data under the new key,
/// splitting the store.
///
/// Two pure steps around the storage: ``prepare(state:source:description:)`` loads the key and
/// checks it against what the store holds, ``finish(_:recorded:)`` checks the value recorded
/// (this process's, or another's that recorded first). The synchronous SQLite open and the
/// asynchronous open of any ``VaultStorage`` run the same steps.
enum RootKeyCheck {
    private static let associatedData = Array("lvs.root-key-check".utf8)

    /// A root key that opens its store.
    struct Opened {
        let rootKey: DataKey
        /// Nothing was written under a root key before.
        let isNew: Bool
        /// The root key file was created (for a store without data).
        let createdKeyFile: Bool
        /// An interrupted root-key rotation was finished (its new key moved into place).
        let finishedRotation: Bool
    }

    /// A root key checked against the store's state, with the check value to record when the
    /// store has none yet.
    struct Prepared {
        let opened: Opened
        /// To record (``VaultStorage/recordRootKeyCheck(_:)``), then pass to ``finish(_:recorded:)``;
        /// nil when the store's own check value opened: the key is checked.
        let candidate: [UInt8]?
        fileprivate let mismatch: LocalVaultError
    }

    /// Loads (or, for a store without data, creates) the root key and checks it against the
    /// store's state; finishes or cleans up an interrupted rotation of a `root.key` file first.
    /// - Parameter description: names the store in the refusal (a folder, or a database URL).
    /// - Throws: ``LocalVaultError`` with rule ``LocalVaultError/Rule-swift.enum/rootKey`` when the
    ///   key is not the store's or is missing for a store that holds data.
    static func prepare(state: RootKeyStoreState, source: RootKeySource, description: String) throws -> Prepared {
        var finishedRotation = false
        if let checkValue = state.checkValue, case .file(let path) = source {
            finishedRotation = try RootKeyRotation.finishInterrupted(keyFile: path) { opens(checkValue, with: $0) }
        }
        let (rootKey, createdKeyFile) = try source.load(mayCreate: !state.holdsData)
        let rotationHint = state.rotatedKeyLocation.map {
            "; its root key was rotated and the new key written to \($0)"
        }
        let mismatch = LocalVaultError(
            .internalError,
            "the root key does not match the store in \(description) (root.key replaced, or "
                + "\(RootKeySource.environmentVariable) set to another key\(rotationHint ?? "")): refusing to open",
            rule: .rootKey
        )
        let opened = Opened(
            rootKey: rootKey,
            isNew: !state.holdsData,
            createdKeyFile: createdKeyFile,
            finishedRotation: finishedRotation
        )
        if let checkValue = state.checkValue {
            guard opens(checkValue, with: rootKey) else { throw mismatch }
            return Prepared(opened: opened, candidate: nil, mismatch: mismatch)
        }
        // A store written before the check existed: its KEKs tell whether the key is its own.
        if let kek = state.sampleKEK {
            let associatedData = KEKRing.associatedData(id: kek.id, name: kek.name, version: kek.version)
            guard (try? rootKey.unwrap(kek.wrappedKey[...], associatedData: associatedData)) != nil else {
                throw mismatch
            }
        }
        return Prepared(opened: opened, candidate: try checkValue(for: rootKey), mismatch: mismatch)
    }

    /// Checks the value the store recorded (another process opening the same store at the same
    /// moment may have recorded its own first).
    static func finish(_ prepared: Prepared, recorded: [UInt8]?) throws -> Opened {
        guard let recorded, opens(recorded, with: prepared.opened.rootKey) else { throw prepared.mismatch }
        return prepared.opened
    }

    /// Both steps on a SQLite store, synchronously (for ``LocalVault/init(configuration:)``).
    static func open(_ storage: SQLiteStorage, source: RootKeySource, description: String) throws -> Opened {
        let state = try reading(description) { try storage.rootKeyStateSync() }
        let prepared = try prepare(state: state, source: source, description: description)
        guard let candidate = prepared.candidate else { return prepared.opened }
        return try finish(
            prepared,
            recorded: try reading(description) { try storage.recordRootKeyCheckSync(candidate) }
        )
    }

    /// Both steps on any store.
    static func open(_ storage: any VaultStorage, source: RootKeySource, description: String) async throws -> Opened {
        let state: RootKeyStoreState
        do {
            state = try await storage.rootKeyState()
        } catch {
            throw cannotRead(description, error)
        }
        let prepared = try prepare(state: state, source: source, description: description)
        guard let candidate = prepared.candidate else { return prepared.opened }
        let recorded: [UInt8]?
        do {
            recorded = try await storage.recordRootKeyCheck(candidate)
        } catch {
            throw cannotRead(description, error)
        }
        return try finish(prepared, recorded: recorded)
    }

    /// A new check value for `rootKey`.
    static func checkValue(for rootKey: DataKey) throws -> [UInt8] {
        try rootKey.wrap(try DataKey.generate(), associatedData: associatedData)
    }

    static func opens(_ checkValue: [UInt8], with rootKey: DataKey) -> Bool {
        (try? rootKey.unwrap(checkValue[...], associatedData: associatedData)) != nil
    }

    private static func reading<Result>(_ description: String, _ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch {
            throw cannotRead(description, error)
        }
    }

    /// A storage failure while the store is opened, naming the store; the engine's own errors as they are.
    private static func cannotRead(_ description: String, _ error: any Error) -> LocalVaultError {
        if let error = error as? LocalVaultError { return error }
        let failure = LocalVaultError(storageFailure: error)
        return LocalVaultError(
            failure?.kind ?? .internalError,
            "cannot read the store in \(description): \(failure?.message ?? "\(error)")",
            rule: failure?.rule ?? .other
        )
    }
}
