import Foundation
import VaultAPI

/// Where a LocalVault keeps its rows: one interface, implemented on SQLite (``SQLiteStorage``, the
/// embedded default) and on PostgreSQL (the `LocalVaultPostgres` module, shared by several
/// `vault serve` instances).
///
/// Every method is one atomic operation (one transaction) and takes no SQL. Every check-and-write
/// is a single conditional statement or runs under a row lock, so that it holds when several
/// processes share the store, not only under SQLite's single writer. Instants are milliseconds
/// since 1970 (``Foundation/Date/storedMilliseconds``). The store never sees a plaintext value,
/// data key or KEK: only wrapped keys and sealed values.
///
/// Implementations throw ``StorageError`` for what the engine must tell apart (an unreachable
/// database, a full disk); the engine maps it to ``LocalVaultError``.
package protocol VaultStorage: Sendable {
    // MARK: The store itself

    /// What the store holds before its root key is loaded (see RootKeyCheck).
    func rootKeyState() async throws -> RootKeyStoreState

    /// Returns once the store answers a trivial read of one of its tables (`GET /health`).
    func checkAvailable() async throws

    /// Records `candidate` as the root-key check value unless one is recorded; returns the one recorded.
    func recordRootKeyCheck(_ candidate: [UInt8]) async throws -> [UInt8]?

    /// Applies a root-key rotation in one transaction: every KEK re-wrapped with `rewrap`, every
    /// stored response re-sealed (or dropped when it does not open), the new check value and the
    /// new key's location recorded. `beforeCommit` runs last inside the transaction; a throw
    /// abandons it (tests stop there as a crash would).
    func rotateRootKey(
        _ rewrap: RootKeyRewrap,
        newKeyLocation: String,
        beforeCommit: @escaping @Sendable () throws -> Void
    ) async throws -> RootKeyRewrap.Counts

    // MARK: Key-encrypting keys

    /// Inserts `candidate` as version 1 of its pair unless the pair has a KEK (another process may
    /// have inserted it meanwhile), then returns the pair's newest version that is not retired.
    /// When `event` is given, it is appended in the same transaction if (and only if) the
    /// candidate was inserted (see ``appendEvents(_:)``).
    func insertFirstKEK(_ candidate: StoredKEK, event: NewVaultEvent?) async throws -> StoredKEK?

    /// Moves a KEK row to the quarantine (kept, never used again); see KEKRing's healing.
    func quarantineKEK(id: String, at instant: Int64) async throws

    /// The KEK with this id in `environmentID`, unless it is retired.
    func kek(id: String, environmentID: String) async throws -> StoredKEK?

    /// Inserts the pair's next version (one more than its newest, 1 if none): `wrap` gets the
    /// version and returns the wrapped key. Concurrent calls end with consecutive versions.
    /// - Returns: the version inserted.
    func insertNextKEKVersion(
        of name: KEKName,
        id: String,
        createdAt: Int64,
        wrap: @escaping @Sendable (Int) throws -> [UInt8]
    ) async throws -> Int

    /// The pair's newest version (retired or not), nil without KEK.
    func newestKEKVersion(of name: KEKName) async throws -> Int?

    /// The pairs (of every environment) whose newest version was created before `cutoff`.
    func pairsWithNewestKEK(createdBefore cutoff: Int64) async throws -> [KEKName]

    /// The ids of the pair's versions below `version` that are not retired.
    func activeKEKIDs(of name: KEKName, below version: Int) async throws -> Set<String>

    /// Retires the pair's versions below `version`; returns how many were retired now.
    func retireKEKs(of name: KEKName, below version: Int, at instant: Int64) async throws -> Int

    /// Adds the next version of every pair (of every environment) whose newest version was
    /// created before `cutoff` and that `includes` accepts, in one transaction: `newVersion` gets
    /// the pair and the version number and returns the row. One process at a time rotates: the
    /// pairs are read under the lock, so a pair another process has just rotated is no longer
    /// due; a process that finds the lock held rotates nothing.
    /// - Returns: the rows inserted.
    func rotateKEKs(
        newestCreatedBefore cutoff: Int64,
        includes: @escaping @Sendable (KEKName) -> Bool,
        newVersion: @escaping @Sendable (KEKName, Int) throws -> StoredKEK
    ) async throws -> [StoredKEK]

    // MARK: Objects

    /// Inserts an object with its first version. A name held by a deleted object whose purge is
    /// due (`purge_at <= now`) is purged first, in the same transaction.
    /// `events` are appended in the same transaction when the object is created.
    func createObject(
        _ object: NewObject,
        firstVersion: NewObjectVersion,
        events: [NewVaultEvent]
    ) async throws -> CreateObjectOutcome

    /// The live object (not deleted) that `lookup` names in `environmentID`, at the version it
    /// names, if its stored context is `contextJSON` (when given).
    func object(_ lookup: ObjectLookup, environmentID: String, contextJSON: String?) async throws -> StoredObject?

    /// Makes `version` the object's current version if the object is live in `environmentID`
    /// (and its context is `contextJSON`, when given) and, when given, its current version id is
    /// `versionCheck` and its current number `expectedVersion`. The version's number is one more
    /// than the object's last. `events` are appended in the same transaction when it is updated.
    func updateObject(
        id: String,
        environmentID: String,
        version: NewObjectVersion,
        versionCheck: String?,
        expectedVersion: Int?,
        events: [NewVaultEvent]
    ) async throws -> UpdateObjectOutcome

    /// Marks a live object deleted (it holds its name until `purgeAt`), or purges it at once when
    /// `purgeAt` is nil; with `versionCheck`, only if that is its current version. `events` get
    /// the object's name (see ``DeletedObjectEvents``) and are appended in the same transaction
    /// when it is deleted.
    func deleteObject(
        id: String,
        environmentID: String,
        contextJSON: String?,
        versionCheck: String?,
        deletedAt: Int64,
        purgeAt: Int64?,
        events: DeletedObjectEvents?
    ) async throws -> DeleteObjectOutcome

    /// Purges for good the deleted objects `selection` names, with their versions; returns how many.
    /// On a shared store one process at a time purges; the others return 0.
    func purgeObjects(_ selection: PurgeSelection) async throws -> Int

    /// How many deleted objects await their purge.
    func pendingPurges() async throws -> Int

    /// The versions of an object, newest first.
    func versions(ofObject id: String) async throws -> [StoredVersionSummary]

    /// A page of live objects, `limit + 1` rows at most (the extra one tells that more follow);
    /// nil when the cursor names no object of the environment.
    func listObjects(_ filter: ObjectListFilter) async throws -> [ObjectSummary]?

    /// Object versions (of live and deleted objects) in id order, after `afterID`.
    func objectVersions(after afterID: String?, limit: Int) async throws -> [StoredVersionValue]

    /// Replaces sealed values, each only if it still holds the bytes read; returns how many changed.
    func replaceSealedValues(_ replacements: [SealedValueReplacement]) async throws -> Int

    // MARK: Idempotency records of requests that change the store

    /// Claims `(scope, key)`: nil when claimed (a new record, or one whose request died before
    /// `leaseExpiredBefore` taken over), else the record that holds it.
    func claimIdempotencyKey(
        scope: String,
        key: String,
        requestHash: String,
        now: Int64,
        leaseExpiredBefore: Int64
    ) async throws -> StoredIdempotencyRecord?

    /// Stores the response of a claimed request.
    func completeIdempotencyKey(scope: String, key: String, status: Int, sealedBody: [UInt8]) async throws

    /// Forgets an unfinished claim.
    func releaseIdempotencyKey(scope: String, key: String) async throws

    /// Deletes the records created before `cutoff` (run by the purge, not per request).
    func expireIdempotencyRecords(createdBefore cutoff: Int64) async throws

    // MARK: Events (see EventRows.swift)

    /// Appends events to their environments' chains, in one transaction: each gets the next
    /// sequence of its environment and its hash (``EventChain``). Concurrent appends (in any
    /// process) are chained one after the other: the chain head is locked.
    func appendEvents(_ events: [NewVaultEvent]) async throws

    /// A page of events, `limit + 1` rows at most; nil when the cursor names no event of the environment.
    func events(_ filter: EventFilter) async throws -> [StoredVaultEvent]?

    /// The environments that have a chain.
    func eventEnvironments() async throws -> [String]

    /// An environment's chain head (its last sequence and hash), nil without events ever.
    func eventChainHead(environmentID: String) async throws -> EventChainHead?

    /// At most `limit` events of the environment after `sequence`, in sequence order.
    func eventChain(environmentID: String, after sequence: Int64, limit: Int) async throws -> [StoredVaultEvent]

    /// Deletes the events created before `cutoff` (ms); the chain heads stay. Returns how many.
    func purgeEvents(createdBefore cutoff: Int64) async throws -> Int

    // MARK: Copying a store to another backend (see StoreCopy.swift)

    /// At most `limit` rows of the cursor's table (the first table's when nil), as they are, in
    /// primary-key order, and the cursor of the next page.
    func exportRows(after cursor: StoreCursor?, limit: Int) async throws -> StoreRowBatch

    /// Inserts exported rows as they are, in one transaction; a row whose key is taken fails it.
    func importRows(_ batch: StoreRowBatch) async throws

    /// Whether the store holds no row at all (no KEK, object, idempotency record or `meta` row).
    func isEmpty() async throws -> Bool

    /// How many rows each table holds.
    func rowCounts() async throws -> StoreRowCounts

    // MARK: Closing

    /// Releases what the store holds in other processes' view (a shared store's lock) and its
    /// connections, and returns once they are released. Later operations fail.
    func shutDown() async
}

extension VaultStorage {
    /// ``insertFirstKEK(_:event:)`` without an event.
    package func insertFirstKEK(_ candidate: StoredKEK) async throws -> StoredKEK? {
        try await insertFirstKEK(candidate, event: nil)
    }

    /// ``createObject(_:firstVersion:events:)`` without events.
    package func createObject(_ object: NewObject, firstVersion: NewObjectVersion) async throws -> CreateObjectOutcome {
        try await createObject(object, firstVersion: firstVersion, events: [])
    }

    /// ``updateObject(id:environmentID:version:versionCheck:expectedVersion:events:)`` without events.
    package func updateObject(
        id: String,
        environmentID: String,
        version: NewObjectVersion,
        versionCheck: String?,
        expectedVersion: Int?
    ) async throws -> UpdateObjectOutcome {
        try await updateObject(
            id: id,
            environmentID: environmentID,
            version: version,
            versionCheck: versionCheck,
            expectedVersion: expectedVersion,
            events: []
        )
    }

    /// ``deleteObject(id:environmentID:contextJSON:versionCheck:deletedAt:purgeAt:events:)`` without events.
    package func deleteObject(
        id: String,
        environmentID: String,
        contextJSON: String?,
        versionCheck: String?,
        deletedAt: Int64,
        purgeAt: Int64?
    ) async throws -> DeleteObjectOutcome {
        try await deleteObject(
            id: id,
            environmentID: environmentID,
            contextJSON: contextJSON,
            versionCheck: versionCheck,
            deletedAt: deletedAt,
            purgeAt: purgeAt,
            events: nil
        )
    }

    /// Nothing to release beyond what `deinit` releases (SQLite: the pool closes with the value).
    /// (Not named `close`: that would hide the C function `close(_:)` in conforming types.)
    package func shutDown() async {}
}

/// A failure of the storage itself, in terms the engine and the server act on.
package enum StorageError: Error, Sendable, Equatable {
    /// The database cannot be reached (down, restarting, connection lost): retryable, a 503.
    case unavailable(String)
    /// The disk (or a database quota) is full.
    case diskFull(String)
    /// Any other failure; the text holds a code from the database, never SQL or values.
    case failed(String)
}

/// The events of a delete, made once the store knows the object's name and stored context (the
/// caller may know only its id).
package struct DeletedObjectEvents: Sendable {
    package var make: @Sendable (_ name: String, _ contextJSON: String) throws -> [NewVaultEvent]

    package init(make: @escaping @Sendable (_ name: String, _ contextJSON: String) throws -> [NewVaultEvent]) {
        self.make = make
    }
}

/// The pair a KEK belongs to.
package struct KEKName: Hashable, Sendable {
    package let environmentID: String
    package let contextKey: String
    package let contextValue: String

    package init(environmentID: String, contextKey: String, contextValue: String) {
        self.environmentID = environmentID
        self.contextKey = contextKey
        self.contextValue = contextValue
    }
}

/// A KEK row: its key wrapped under the root key.
package struct StoredKEK: Sendable {
    package var id: String
    package var name: KEKName
    package var version: Int
    package var wrappedKey: [UInt8]
    package var createdAt: Int64

    package init(id: String, name: KEKName, version: Int, wrappedKey: [UInt8], createdAt: Int64) {
        self.id = id
        self.name = name
        self.version = version
        self.wrappedKey = wrappedKey
        self.createdAt = createdAt
    }
}

/// What the store holds before its root key is loaded.
package struct RootKeyStoreState: Sendable {
    /// The sealed check value, absent in stores written before it existed and in new ones.
    package var checkValue: [UInt8]?
    /// Whether anything was written under a root key (KEKs, objects, a check value).
    package var holdsData: Bool
    /// One stored KEK, to verify a root key against a store that has no check value yet.
    package var sampleKEK: StoredKEK?
    /// Where the last root-key rotation wrote the new key (a path, never a key).
    package var rotatedKeyLocation: String?

    package init(checkValue: [UInt8]?, holdsData: Bool, sampleKEK: StoredKEK?, rotatedKeyLocation: String?) {
        self.checkValue = checkValue
        self.holdsData = holdsData
        self.sampleKEK = sampleKEK
        self.rotatedKeyLocation = rotatedKeyLocation
    }
}

/// An object to insert.
package struct NewObject: Sendable {
    package var id: String
    package var environmentID: String
    package var name: String
    /// ``KeyContext/canonicalJSON``: a lookup by context is one equality.
    package var contextJSON: String
}

/// A sealed version to insert, with its writer and instant (which become the object's `updated_*`).
package struct NewObjectVersion: Sendable {
    package var id: String
    package var createdAt: Int64
    package var actor: VaultActor
    package var size: Int
    package var etag: String
    package var dataKeyID: String
    package var sealedValue: [UInt8]
}

package enum CreateObjectOutcome: Sendable, Equatable {
    /// Created; `purgedHolder` when a deleted object's due purge freed the name first.
    case created(purgedHolder: Bool)
    /// A live object has the name.
    case nameInUse
    /// A deleted object holds the name until `purgeAt`.
    case nameHeld(purgeAt: Int64)
}

package enum UpdateObjectOutcome: Sendable, Equatable {
    case updated
    /// The object is live but `versionCheck` or `expectedVersion` does not match.
    case conflict
    case notFound
}

package enum DeleteObjectOutcome: Sendable, Equatable {
    /// Deleted; `purged` when it was purged at once.
    case deleted(name: String, purged: Bool)
    case conflict
    case notFound
}

/// Which object, and which of its versions.
package enum ObjectLookup: Sendable, Hashable {
    case id(String)
    case name(String)
    /// The object with this id, at the version `selector` names.
    case version(objectID: String, ObjectVersionSelector)
}

package enum PurgeSelection: Sendable, Hashable {
    /// Objects whose purge is due at `now`.
    case due(now: Int64)
    /// Objects deleted at or before `cutoff`, due or not.
    case deletedBefore(Int64)
}

/// An object at one version (the current one unless the lookup named another), with that
/// version's own writer and instant.
package struct StoredObject: Sendable {
    package var id: String
    package var environmentID: String
    package var name: String
    package var contextJSON: String
    package var updatedAt: Int64
    package var actor: VaultActor
    package var versionID: String
    package var versionNumber: Int
    package var dataKeyID: String
    package var sealedValue: [UInt8]

    package init(
        id: String,
        environmentID: String,
        name: String,
        contextJSON: String,
        updatedAt: Int64,
        actor: VaultActor,
        versionID: String,
        versionNumber: Int,
        dataKeyID: String,
        sealedValue: [UInt8]
    ) {
        self.id = id
        self.environmentID = environmentID
        self.name = name
        self.contextJSON = contextJSON
        self.updatedAt = updatedAt
        self.actor = actor
        self.versionID = versionID
        self.versionNumber = versionNumber
        self.dataKeyID = dataKeyID
        self.sealedValue = sealedValue
    }
}

package struct StoredVersionSummary: Sendable {
    package var id: String
    package var number: Int
    package var createdAt: Int64
    package var size: Int
    package var etag: String

    package init(id: String, number: Int, createdAt: Int64, size: Int, etag: String) {
        self.id = id
        self.number = number
        self.createdAt = createdAt
        self.size = size
        self.etag = etag
    }
}

/// One page's worth of `GET /kv`. `ascending` is the order rows are read in (a `before` cursor
/// reads backwards); the engine flips pages and builds cursors.
package struct ObjectListFilter: Sendable {
    package var environmentID: String
    package var contextJSON: String?
    /// A substring of the name, ASCII letters matched without case on both backends.
    package var search: String?
    package var updatedAfter: Int64?
    /// The object id the page starts after (in reading order).
    package var cursorID: String?
    package var ascending: Bool
    package var limit: Int
}

/// An object version's sealed value, with what a rewrap needs.
package struct StoredVersionValue: Sendable {
    package var id: String
    package var objectID: String
    package var environmentID: String
    package var contextJSON: String
    package var sealedValue: [UInt8]

    package init(id: String, objectID: String, environmentID: String, contextJSON: String, sealedValue: [UInt8]) {
        self.id = id
        self.objectID = objectID
        self.environmentID = environmentID
        self.contextJSON = contextJSON
        self.sealedValue = sealedValue
    }
}

package struct SealedValueReplacement: Sendable {
    package var versionID: String
    package var old: [UInt8]
    package var new: [UInt8]
}

/// An idempotency record that holds a key.
package struct StoredIdempotencyRecord: Sendable {
    package var requestHash: String
    /// Nil while the first request runs.
    package var status: Int?
    package var sealedBody: [UInt8]?

    package init(requestHash: String, status: Int?, sealedBody: [UInt8]?) {
        self.requestHash = requestHash
        self.status = status
        self.sealedBody = sealedBody
    }
}
