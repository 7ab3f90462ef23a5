import EnvelopeCrypto
import Foundation
import Logging
import Synchronization
import VaultAPI

/// How to open a LocalVault.
public struct LocalVaultConfiguration: Sendable {
    /// The environment variable that, when set, lists (comma-separated) the environments in
    /// which version-1 `encrypted_keys` that hold only customer-key entries are still accepted.
    public static let legacyCustomerKeyEnvironmentsVariable = "VAULT_LEGACY_BYOK_ENVIRONMENTS"

    /// The folder holding `vault.sqlite` (and `root.key` unless the root key comes from elsewhere).
    public var dataDirectory: String
    /// Where the root key comes from.
    public var rootKey: RootKeySource
    /// Customer-managed keys (BYOK) by context pair.
    public var customerKeys: [CustomerKeyMapping]
    /// The environments in which `encrypted_keys` written before environments were bound
    /// (version 1) and holding only customer-key entries are accepted by ``LocalVault/decryptDataKey(encryptedKeys:environmentID:)``
    /// and ``LocalVault/rekey(encryptedKeys:context:environmentID:)``.
    ///
    /// Such a blob carries no proof of the environment that issued it, so it opens only here.
    /// Version-1 blobs that also hold a Vault-managed entry open only in the environment whose
    /// KEK opens that entry; version-1 blobs of stored objects open in their object's
    /// environment; version-2 blobs (all blobs written now) open only in their own environment.
    public var legacyCustomerKeyEnvironments: Set<String>
    /// Where to log the creation of a new store and warnings about key-file permissions. None by default.
    public var logger: Logger?
    /// How long a deleted object holds its name before it is purged for good; zero purges it
    /// (and frees the name) on delete. Five minutes by default.
    public var purgeDelay: Duration
    /// Whether the vault purges due objects on its own, from a task it owns that wakes every
    /// ``LocalVault/purgeInterval`` (at most a minute) while the vault is alive. A host that runs
    /// ``LocalVault/purgeDueObjects(now:)`` on its own schedule (as `vault serve` does) turns it off.
    public var purgesInBackground: Bool
    /// Whether the vault records events (the audit trail of ``LocalVault/listEvents(_:environmentID:)``):
    /// a write's event in the write's transaction, a read's event committed before the value is
    /// returned (a read whose event cannot be written fails). Off by default for the embedded
    /// library; `vault serve` turns it on.
    public var recordsEvents: Bool

    /// How long the vault trusts the KEKs it keeps in memory: past it, the next use of a pair
    /// reads the pair's newest version again, and the next use of a KEK by id checks again that
    /// it is not retired. nil caches them for the vault's life.
    ///
    /// Unless set, nil on a data folder (its lock keeps admin commands away while a vault is
    /// open) and ``sharedStoreKEKCacheTTL`` on a PostgreSQL database, which several processes
    /// share: a version another process adds is used for new data keys, and a version it retires
    /// stops unwrapping here, within that time.
    public var kekCacheTTL: Duration? {
        get { chosenKEKCacheTTL ?? nil }
        set { chosenKEKCacheTTL = .some(newValue) }
    }
    /// nil while ``kekCacheTTL`` is not set (the store's default applies).
    private var chosenKEKCacheTTL: Duration??

    /// 60 seconds: the KEK cache's time to live on a store several processes share.
    public static let sharedStoreKEKCacheTTL = Duration.seconds(60)

    /// Sets ``kekCacheTTL`` to `ttl` unless the caller set it.
    package mutating func defaultKEKCacheTTL(to ttl: Duration) {
        if chosenKEKCacheTTL == nil { chosenKEKCacheTTL = .some(ttl) }
    }

    /// - Parameters:
    ///   - dataDirectory: created (mode 0700) if missing.
    ///   - rootKey: defaults to `VAULT_ROOT_KEY` when set, else `root.key` in `dataDirectory`.
    ///   - customerKeys: BYOK mappings; none by default.
    ///   - legacyCustomerKeyEnvironments: defaults to `VAULT_LEGACY_BYOK_ENVIRONMENTS` when set
    ///     (an empty value accepts such blobs nowhere), else ``LocalVault/defaultEnvironmentID``.
    ///   - logger: none by default.
    ///   - purgeDelay: five minutes by default; a negative delay counts as zero.
    ///   - purgesInBackground: on by default.
    ///   - recordsEvents: off by default.
    public init(
        dataDirectory: String,
        rootKey: RootKeySource? = nil,
        customerKeys: [CustomerKeyMapping] = [],
        legacyCustomerKeyEnvironments: Set<String>? = nil,
        logger: Logger? = nil,
        purgeDelay: Duration = LocalVaultConfiguration.defaultPurgeDelay,
        purgesInBackground: Bool = true,
        recordsEvents: Bool = false
    ) {
        self.recordsEvents = recordsEvents
        self.purgeDelay = max(purgeDelay, .zero)
        self.purgesInBackground = purgesInBackground
        self.dataDirectory = dataDirectory
        self.rootKey = rootKey ?? .default(dataDirectory: dataDirectory)
        self.customerKeys = customerKeys
        self.legacyCustomerKeyEnvironments =
            legacyCustomerKeyEnvironments
            ?? Self.legacyCustomerKeyEnvironments(
                variable: ProcessInfo.processInfo.environment[Self.legacyCustomerKeyEnvironmentsVariable]
            )
        self.logger = logger
    }

    /// Five minutes.
    public static let defaultPurgeDelay = Duration.seconds(300)

    /// The legacy environments a value of `VAULT_LEGACY_BYOK_ENVIRONMENTS` names: unset, the
    /// default environment; empty, none; else the comma-separated ids.
    public static func legacyCustomerKeyEnvironments(variable value: String?) -> Set<String> {
        guard let value else { return [LocalVault.defaultEnvironmentID] }
        return Set(
            value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        )
    }
}

/// Who is calling: the environment whose keys and objects the call sees, and the API key that
/// writes (it becomes the object's `updated_by`) and that events name as their actor.
public struct VaultCaller: Sendable, Hashable {
    public var environmentID: String
    public var actor: VaultActor

    public init(environmentID: String, actor: VaultActor) {
        self.environmentID = environmentID
        self.actor = actor
    }

    /// The actor of the calls that take only an environment (the embedded library's): id
    /// `local`, name `local`.
    public static let localActor = VaultActor(id: "local", name: "local")

    /// A caller in `environmentID` acting as ``localActor``.
    public static func local(_ environmentID: String) -> VaultCaller {
        VaultCaller(environmentID: environmentID, actor: localActor)
    }
}

/// A data key as issued: the key, its wrapped copies and its context.
public struct IssuedDataKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let id: String
    public let key: DataKey
    /// The `encrypted_keys` blob, opaque to clients.
    public let encryptedKeys: [UInt8]
    public let context: KeyContext

    /// The body of the `data-key` and `rekey` responses.
    public var response: DataKeyResponse {
        DataKeyResponse(
            id: id,
            dataKey: key.base64EncodedString(),
            encryptedKeys: Base64.encode(encryptedKeys),
            context: context
        )
    }

    /// The id only: the key, its wrapped copies and the context are redacted.
    public var description: String { "IssuedDataKey(id: \(id), redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["id": id], displayStyle: .struct) }
}

/// The Vault service itself, in-process: KEKs per context pair, data keys, rekey, versioned
/// encrypted objects per environment, and BYOK, stored in SQLite (or, through the
/// `LocalVaultPostgres` module, in PostgreSQL). `vault serve` puts it behind the WorkOS REST API;
/// the embedded resolver calls it directly.
public final class LocalVault: Sendable {
    /// The environment of API keys configured without one.
    public static let defaultEnvironmentID = "environment_local"
    /// The longest object name, in characters.
    public static let maxNameLength = ObjectName.maxLength

    let storage: any VaultStorage
    let rootKey: DataKey
    /// Held shared while a vault on a SQLite store lives: a root-key rotation waits for no open vault.
    private let storeLock: StoreLock?
    let volatileIdempotency: VolatileIdempotency
    let keks: KEKRing
    /// The BYOK mappings by `key NUL value`; replaced as a whole by ``replaceCustomerKeys(_:)``.
    let customerKeyTable: Mutex<[String: CustomerKeyMapping]>
    private var customerKeys: [String: CustomerKeyMapping] { customerKeyTable.withLock { $0 } }
    private let legacyCustomerKeyEnvironments: Set<String>
    let purgeDelay: Duration
    /// Commits read events (nil when the vault records no events).
    let eventRecorder: EventRecorder?
    /// The background purge (see ``LocalVaultConfiguration/purgesInBackground``), cancelled when
    /// the vault is released.
    private let backgroundPurge = Mutex<Task<Void, Never>?>(nil)

    /// Opens (or creates) the vault in `configuration.dataDirectory`.
    ///
    /// The store and the root key are checked against each other: a store keeps a check value
    /// sealed under its root key, and a root key that does not open it is refused. A missing
    /// root key file is created only for a store that holds no data yet.
    /// - Throws: ``LocalVaultError`` if the folder, root key or store cannot be opened, or the root
    ///   key is not the store's (rule ``LocalVaultError/Rule-swift.enum/rootKey``).
    public convenience init(configuration: LocalVaultConfiguration) throws {
        try self.init(configuration: configuration, exclusive: false)
    }

    /// Opens the vault holding the store's lock exclusively (see ``openExclusively(configuration:)``).
    convenience init(configuration: LocalVaultConfiguration, exclusive: Bool) throws {
        let directory = configuration.dataDirectory
        do {
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw LocalVaultError(.internalError, "cannot create the data folder \(directory)")
        }
        let storeLock = try StoreLock(directory: directory, exclusive: exclusive)
        let storage = try SQLiteStorage.opened(in: directory)
        let opened = try RootKeyCheck.open(storage, source: configuration.rootKey, description: directory)
        try self.init(
            storage: storage,
            opened: opened,
            storeLock: storeLock,
            configuration: configuration,
            storeDescription: directory
        )
    }

    /// Opens the vault on `storage` (such as a PostgreSQL store), checking the root key of
    /// `configuration` against it as ``init(configuration:)`` does; `configuration.dataDirectory`
    /// is used only to find `root.key` when the root key comes from the default file.
    /// - Parameter storeDescription: names the store in messages and logs (for example
    ///   `postgres://host:5432/vault`); never a password.
    /// - Throws: ``LocalVaultError`` as ``init(configuration:)``.
    package static func open(
        storage: any VaultStorage,
        configuration: LocalVaultConfiguration,
        storeDescription: String
    ) async throws -> LocalVault {
        let opened = try await RootKeyCheck.open(storage, source: configuration.rootKey, description: storeDescription)
        return try LocalVault(
            storage: storage,
            opened: opened,
            storeLock: nil,
            configuration: configuration,
            storeDescription: storeDescription
        )
    }

    /// The vault on a store whose root key is checked.
    private init(
        storage: any VaultStorage,
        opened: RootKeyCheck.Opened,
        storeLock: StoreLock?,
        configuration: LocalVaultConfiguration,
        storeDescription: String
    ) throws {
        self.storage = storage
        self.storeLock = storeLock
        rootKey = opened.rootKey
        let metadata: Logger.Metadata = [
            "data_dir": "\(storeDescription)", "root_key": "\(configuration.rootKey.logDescription)",
        ]
        if opened.finishedRotation, let logger = configuration.logger {
            logger.notice(
                "finished an interrupted root-key rotation: the new root key is now in place",
                metadata: metadata
            )
        }
        if opened.isNew || opened.createdKeyFile, let logger = configuration.logger {
            logger.notice(
                opened.createdKeyFile ? "created a new vault store and root key" : "created a new vault store",
                metadata: metadata
            )
        }
        if let logger = configuration.logger {
            KeyFilePermissions.warnIfShared(
                rootKey: configuration.rootKey,
                customerKeys: configuration.customerKeys,
                logger: logger
            )
        }
        keks = KEKRing(rootKey: rootKey, storage: storage, cacheTTL: configuration.kekCacheTTL)
        do {
            volatileIdempotency = try VolatileIdempotency()
        } catch {
            throw LocalVaultError(.internalError, "cannot draw a random key: \(error)")
        }
        customerKeyTable = Mutex(Self.customerKeyTable(configuration.customerKeys))
        legacyCustomerKeyEnvironments = configuration.legacyCustomerKeyEnvironments
        purgeDelay = max(configuration.purgeDelay, .zero)
        eventRecorder = configuration.recordsEvents ? EventRecorder(storage: storage) : nil
        if configuration.purgesInBackground { startBackgroundPurge(logger: configuration.logger) }
    }

    /// One background purge; false once the vault is gone.
    private static func purgeDueObjects(of vault: LocalVault?, logger: Logger?) async -> Bool {
        guard let vault else { return false }
        do {
            try await vault.purgeDueObjects()
        } catch {
            logger?.error("purging deleted objects failed", metadata: ["error": "\(type(of: error))"])
        }
        return true
    }

    deinit { backgroundPurge.withLock { $0?.cancel() } }

    /// Closes the vault now, rather than when the last reference to it goes: stops the
    /// background purge, and lets the store go (its lock, so that an admin command can open it
    /// at once, and a shared store's connections). Operations on a closed vault fail.
    public func close() async {
        backgroundPurge.withLock { $0?.cancel() }
        await storage.shutDown()
        storeLock?.release()
    }

    /// A task rather than a `Service`: an embedded vault has no service group to join. It holds
    /// the vault weakly (releasing the vault ends it) and is cancelled in `deinit`.
    private func startBackgroundPurge(logger: Logger?) {
        let interval = purgeInterval
        // Once at start too: a short-lived process (a CLI call) purges what earlier ones left due.
        let task = Task { [weak self] in
            while !Task.isCancelled {
                // The vault is held only while it purges, never while the task sleeps.
                guard await Self.purgeDueObjects(of: self, logger: logger) else { return }
                try? await Task.sleep(for: interval)
            }
        }
        backgroundPurge.withLock { $0 = task }
    }

    // MARK: Data keys

    /// Issues a fresh data key wrapped under every KEK of `context` (POST /keys/data-key).
    /// - Throws: ``LocalVaultError`` (422 for an invalid context, 403 for an unusable customer key).
    public func createDataKey(context: KeyContext, environmentID: String) async throws -> IssuedDataKey {
        try await createDataKey(context: context, caller: .local(environmentID))
    }

    /// Issues a fresh data key for `caller` (POST /keys/data-key), recording `vault.dek.read`.
    public func createDataKey(context: KeyContext, caller: VaultCaller) async throws -> IssuedDataKey {
        let issued = try await issueDataKey(context: context, caller: caller)
        try await recordDataKeyEvent(.dekRead, issued, context: context, caller: caller)
        return issued
    }

    /// A fresh data key, without an event of its own (an object's, or a data-key call's).
    func issueDataKey(context: KeyContext, caller: VaultCaller) async throws -> IssuedDataKey {
        try validate(context)
        let key = try DataKey.generate()
        let issued = try await wrap(
            key,
            id: try Identifier.random(),
            context: context,
            environmentID: caller.environmentID,
            actor: caller.actor
        )
        VaultMetrics.dataKeysIssued.increment()
        return issued
    }

    /// Unwraps a data key from `encrypted_keys` this vault issued in `environmentID` (POST /keys/decrypt).
    /// - Throws: ``LocalVaultError`` (400 for foreign, truncated or altered keys, and for keys
    ///   issued in another environment; 403 for an unusable customer key).
    public func decryptDataKey(encryptedKeys: [UInt8], environmentID: String) async throws -> (id: String, key: DataKey)
    {
        try await decryptDataKey(encryptedKeys: encryptedKeys, caller: .local(environmentID))
    }

    /// Unwraps a data key for `caller` (POST /keys/decrypt), recording `vault.dek.decrypted`.
    public func decryptDataKey(encryptedKeys: [UInt8], caller: VaultCaller) async throws -> (id: String, key: DataKey) {
        let opened = try await decryptDataKey(
            encryptedKeys: encryptedKeys,
            environmentID: caller.environmentID,
            origin: .caller
        )
        try await recordRead(
            .dekDecrypted,
            VaultEventData(actor: caller.actor, keyID: opened.id),
            caller: caller,
            organizationID: nil
        )
        return opened
    }

    /// Where `encrypted_keys` come from, which decides how far a version-1 blob is trusted.
    enum KeysOrigin: Sendable {
        /// A client sent them: a version-1 customer-key blob must prove its environment.
        case caller
        /// A stored object of `environmentID` holds them: the row names the environment.
        case storedObject
    }

    func decryptDataKey(
        encryptedKeys: [UInt8],
        environmentID: String,
        origin: KeysOrigin
    ) async throws -> (id: String, key: DataKey) {
        guard let blob = KeysBlob(parsing: encryptedKeys) else { throw LocalVaultError.foreignKeys }
        return (
            blob.dataKeyID.lowercasedString, try await unwrap(blob, environmentID: environmentID, origin: origin)
        )
    }

    /// Re-wraps the data key of `encryptedKeys` under `context`; the key and its id are unchanged
    /// (POST /keys/rekey). The result is bound to `environmentID`, like every blob written now.
    /// - Throws: ``LocalVaultError`` (400 for keys not issued in `environmentID`).
    public func rekey(encryptedKeys: [UInt8], context: KeyContext, environmentID: String) async throws -> IssuedDataKey
    {
        try await rekey(encryptedKeys: encryptedKeys, context: context, caller: .local(environmentID))
    }

    /// Re-wraps a data key for `caller` (POST /keys/rekey), recording `vault.dek.rekeyed`.
    public func rekey(encryptedKeys: [UInt8], context: KeyContext, caller: VaultCaller) async throws -> IssuedDataKey {
        try validate(context)
        guard let blob = KeysBlob(parsing: encryptedKeys) else { throw LocalVaultError.foreignKeys }
        let key = try await unwrap(blob, environmentID: caller.environmentID, origin: .caller)
        let issued = try await wrap(
            key,
            id: blob.dataKeyID,
            context: context,
            environmentID: caller.environmentID,
            actor: caller.actor
        )
        try await recordDataKeyEvent(.dekRekeyed, issued, context: context, caller: caller)
        return issued
    }

    /// Records `vault.dek.read` or `vault.dek.rekeyed` for a data key issued under `context`.
    private func recordDataKeyEvent(
        _ type: VaultEventType,
        _ issued: IssuedDataKey,
        context: KeyContext,
        caller: VaultCaller
    ) async throws {
        try await recordDataKeyAccess(id: issued.id, context: context, rekeyed: type == .dekRekeyed, caller: caller)
    }

    /// Records that `caller` is handed data key `id` of `context` again: an `Idempotency-Key`
    /// replay of `keys/data-key` (`vault.dek.read`) or `keys/rekey` (`vault.dek.rekeyed`, when
    /// `rekeyed`) answers with the stored data key, an access like the first answer. Returns once
    /// the event is durable; nothing when this vault records no events.
    /// - Parameters:
    ///   - id: the data key's id, as its answer gave it.
    ///   - context: the key context of the answer.
    ///   - rekeyed: whether the answer was a rekey's.
    ///   - caller: who the answer goes to.
    /// - Throws: the storage's error if the event cannot be written: the replay must then fail.
    public func recordDataKeyAccess(id: String, context: KeyContext, rekeyed: Bool, caller: VaultCaller) async throws {
        try await recordRead(
            rekeyed ? .dekRekeyed : .dekRead,
            VaultEventData(actor: caller.actor, keyIDs: [id], keyContext: context),
            caller: caller,
            organizationID: Self.organizationID(of: context)
        )
    }

    private func validate(_ context: KeyContext) throws {
        do {
            try context.validate()
        } catch {
            throw LocalVaultError.invalidKeyContext(error)
        }
    }

    func wrap(
        _ key: DataKey,
        id: UUID,
        context: KeyContext,
        environmentID: String,
        actor: VaultActor? = nil
    ) async throws -> IssuedDataKey {
        var entries: [KeysBlob.Entry] = []
        entries.reserveCapacity(context.pairs.count)
        for (contextKey, contextValue) in context.sortedPairs {
            if let customer = customerKey(contextKey: contextKey, contextValue: contextValue) {
                let associatedData = KeysBlob.associatedData(
                    version: KeysBlob.currentVersion,
                    dataKeyID: id,
                    kind: .customer,
                    kekID: customer.keyID,
                    environmentID: environmentID
                )
                let wrapped = try await customer.provider.wrap(key, associatedData: associatedData)
                entries.append(KeysBlob.Entry(kind: .customer, kekID: customer.keyID, wrappedKey: wrapped))
            } else {
                let name = KEKName(
                    environmentID: environmentID,
                    contextKey: contextKey,
                    contextValue: contextValue
                )
                let kek = try await keks.kek(for: name, creationEvent: kekCreatedEvent(name, actor: actor))
                let associatedData = KeysBlob.associatedData(
                    version: KeysBlob.currentVersion,
                    dataKeyID: id,
                    kind: .vault,
                    kekID: kek.id,
                    environmentID: environmentID
                )
                let wrapped = try kek.key.wrap(key, associatedData: associatedData)
                entries.append(KeysBlob.Entry(kind: .vault, kekID: kek.id, wrappedKey: wrapped))
            }
        }
        let blob = KeysBlob(dataKeyID: id, entries: entries)
        return IssuedDataKey(id: id.lowercasedString, key: key, encryptedKeys: blob.encoded(), context: context)
    }

    /// The pairs configured with a customer key, as `key NUL value`.
    var customerPairKeys: Dictionary<String, CustomerKeyMapping>.Keys { customerKeys.keys }

    func customerKey(contextKey: String, contextValue: String) -> CustomerKeyMapping? {
        customerKeys.isEmpty ? nil : customerKeys["\(contextKey)\u{0}\(contextValue)"]
    }

    /// Unwraps with the first entry that opens. When the blob holds a customer-key entry only
    /// customer keys are tried: revoking a customer key must make its data unreadable, so a
    /// Vault-managed KEK of another pair is no silent way around it.
    ///
    /// Version 2 binds the environment into every entry. A version-1 customer-key entry binds
    /// none, so a client's version-1 blob with one opens only where its environment is shown: by
    /// a Vault-managed entry of the same blob that opens under this environment's KEK (and
    /// yields the same key), or, for a blob without such an entry, by the environment being one
    /// of the configured legacy ones. A stored object's blob is in its row's environment.
    private func unwrap(_ blob: KeysBlob, environmentID: String, origin: KeysOrigin) async throws -> DataKey {
        let customerEntries = blob.entries.filter { $0.kind == .customer }
        guard !customerEntries.isEmpty else { return try await unwrapVaultEntries(blob, environmentID: environmentID) }
        let holdsVaultEntries = customerEntries.count < blob.entries.count
        let environmentIsBound =
            blob.version == .environmentBound || origin == .storedObject
            || (!holdsVaultEntries && legacyCustomerKeyEnvironments.contains(environmentID))
        if environmentIsBound {
            return try await unwrapCustomerEntries(
                customerEntries,
                of: blob,
                environmentID: environmentID,
                origin: origin
            )
        }
        // A version-1 blob from a client: only a Vault-managed entry can show where it was issued.
        guard holdsVaultEntries else { throw LocalVaultError.foreignKeys }
        let shown = try await unwrapVaultEntries(blob, environmentID: environmentID)
        let key = try await unwrapCustomerEntries(
            customerEntries,
            of: blob,
            environmentID: environmentID,
            origin: origin
        )
        guard key == shown else { throw LocalVaultError.foreignKeys }
        return key
    }

    private func unwrapVaultEntries(_ blob: KeysBlob, environmentID: String) async throws -> DataKey {
        var lastError = LocalVaultError.foreignKeys
        for entry in blob.entries where entry.kind == .vault {
            do {
                guard let kek = try await keks.kek(id: entry.kekID, environmentID: environmentID) else { continue }
                let associatedData = blob.associatedData(
                    kind: .vault,
                    kekID: entry.kekID,
                    environmentID: environmentID
                )
                return try kek.key.unwrap(entry.wrappedKey[...], associatedData: associatedData)
            } catch let error as LocalVaultError {
                lastError = error
            } catch {
                lastError = LocalVaultError(storageFailure: error) ?? LocalVaultError.foreignKeys
            }
        }
        throw lastError
    }

    private func unwrapCustomerEntries(
        _ entries: [KeysBlob.Entry],
        of blob: KeysBlob,
        environmentID: String,
        origin: KeysOrigin
    ) async throws -> DataKey {
        var lastError = LocalVaultError.foreignKeys
        for entry in entries {
            guard let customer = customerKeys.values.first(where: { $0.keyID == entry.kekID }) else {
                // The id comes from the blob: the message does not repeat it.
                lastError = LocalVaultError(
                    .insufficientPermissions,
                    "insufficient permissions to use the customer-managed key of these encrypted keys"
                )
                continue
            }
            let associatedData = blob.associatedData(kind: .customer, kekID: entry.kekID, environmentID: environmentID)
            do {
                return try await customer.provider.unwrap(entry.wrappedKey, associatedData: associatedData)
            } catch let error as LocalVaultError where error.kind == .insufficientPermissions {
                lastError = error
            } catch {
                // From a client, a blob that does not open is foreign. A stored object's blob is
                // this vault's own: if the customer key no longer opens it, the key was replaced.
                lastError =
                    origin == .storedObject
                    ? LocalVaultError(
                        .insufficientPermissions,
                        "the customer-managed key \(customer.keyID) cannot unwrap this data key"
                    )
                    : LocalVaultError.foreignKeys
            }
        }
        throw lastError
    }
}
