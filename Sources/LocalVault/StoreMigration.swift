import Foundation
import VaultAPI

/// What a store copy moved: rows per table, counts only. Retired KEK versions and deleted objects
/// (still holding their names until their purge) are copied too, and counted apart as well.
public struct StoreCopyReport: Sendable, Hashable {
    /// KEK versions, retired ones included.
    public internal(set) var keks = 0
    /// KEK versions retired (they stay retired in the copy).
    public internal(set) var retiredKEKs = 0
    /// KEK rows in quarantine (see the store's healing of rows older builds cut at a NUL).
    public internal(set) var quarantinedKEKs = 0
    /// Objects, deleted ones awaiting their purge included.
    public internal(set) var objects = 0
    /// Deleted objects awaiting their purge (each keeps its purge instant).
    public internal(set) var deletedObjects = 0
    /// Object versions (each with its number, writer and sealed value).
    public internal(set) var objectVersions = 0
    /// Durable idempotency records of `POST /kv` (a retry after the move still replays).
    public internal(set) var idempotencyRecords = 0
    /// Events (the audit trail), with their hash chains as they are.
    public internal(set) var events = 0
    /// The environments' event chain heads.
    public internal(set) var eventChainHeads = 0
    /// The store's own rows: the root-key check value, where a rotation wrote the new key.
    public internal(set) var metaRows = 0

    /// No rows yet.
    public init() {}

    /// Rows of every table together.
    public var rows: Int { rowCounts.total }

    mutating func add(_ rows: StoreRows) {
        switch rows {
        case .meta(let rows): metaRows += rows.count
        case .keks(let rows):
            keks += rows.count
            retiredKEKs += rows.count(where: { $0.retiredAt != nil })
        case .quarantinedKEKs(let rows): quarantinedKEKs += rows.count
        case .objects(let rows):
            objects += rows.count
            deletedObjects += rows.count(where: { $0.deletedAt != nil })
        case .objectVersions(let rows): objectVersions += rows.count
        case .idempotencyRecords(let rows): idempotencyRecords += rows.count
        case .events(let rows): events += rows.count
        case .eventChainHeads(let rows): eventChainHeads += rows.count
        }
    }

    /// The rows per table, to compare with a store's own counts.
    var rowCounts: StoreRowCounts {
        var counts = StoreRowCounts()
        counts.meta = metaRows
        counts.keks = keks
        counts.quarantinedKEKs = quarantinedKEKs
        counts.objects = objects
        counts.objectVersions = objectVersions
        counts.idempotencyRecords = idempotencyRecords
        counts.events = events
        counts.eventChainHeads = eventChainHeads
        return counts
    }
}

/// What a migration of a data folder's SQLite store to another store did. Counts and names only.
public struct StoreMigrationReport: Sendable, Hashable {
    /// The rows copied.
    public let copied: StoreCopyReport
    /// Live objects read from both stores, every environment's, and found the same (value,
    /// name, version number and id, writer, instant, key context, data key id).
    public let verifiedObjects: Int
    /// The data folder copied from.
    public let source: String
    /// The store copied to, without a password.
    public let destination: String
}

/// How far a migration is, reported after each batch.
public enum StoreMigrationProgress: Sendable, Hashable {
    /// Rows copied so far.
    case copied(StoreCopyReport)
    /// Live objects verified so far.
    case verified(objects: Int)
}

extension LocalVault {
    /// The rows per batch of a copy, and so what it holds in memory at most: this many rows of
    /// one table (an object version holds its sealed value).
    package static let storeCopyBatchSize = 100

    /// Copies every row of `source` into `destination` as it is, in batches of `batchSize` rows
    /// (one transaction each on the destination), so that a store of any size copies in bounded
    /// memory. Wrapped keys and sealed values move byte for byte: the copy opens under the same
    /// root key. The source is only read; nobody may write to it meanwhile (the caller holds it).
    ///
    /// A failure part-way leaves the destination partly filled: it is no longer empty, so a
    /// second copy into it is refused; drop it and start again.
    /// - Throws: ``LocalVaultError``: the destination holds rows (nothing is written), or a
    ///   storage failure naming how far the copy got.
    package static func copyStore(
        from source: any VaultStorage,
        to destination: any VaultStorage,
        batchSize: Int = storeCopyBatchSize,
        progress: (StoreCopyReport) -> Void = { _ in }
    ) async throws -> StoreCopyReport {
        guard try await migrationStep("cannot read the destination", { try await destination.isEmpty() }) else {
            throw LocalVaultError(
                .internalError,
                "the destination is not empty (it holds keys, objects or a root-key check): "
                    + "migrate into a new, empty database; nothing was written"
            )
        }
        var report = StoreCopyReport()
        var cursor: StoreCursor? = .start
        while let current = cursor {
            let batch = try await migrationStep("cannot read the source") {
                try await source.exportRows(after: current, limit: max(batchSize, 1))
            }
            if batch.rows.count > 0 {
                try await migrationStep(
                    "the copy failed at table \(current.table.name) after \(report.rowCounts.total) rows "
                        + "(the source is unchanged; drop the destination and start again)"
                ) { try await destination.importRows(batch) }
                report.add(batch.rows)
                progress(report)
            }
            cursor = batch.next
        }
        return report
    }

    /// Copies the SQLite store of `configuration.dataDirectory` into `destination` (an empty store
    /// of another backend), then verifies the copy: see the public `migrate` of LocalVaultPostgres.
    /// - Parameter destinationDescription: names the destination in messages (never a password).
    package static func migrateStore(
        configuration: LocalVaultConfiguration,
        to destination: any VaultStorage,
        destinationDescription: String,
        batchSize: Int = storeCopyBatchSize,
        progress: (StoreMigrationProgress) -> Void = { _ in }
    ) async throws -> StoreMigrationReport {
        var configuration = configuration
        // Neither store may change under the copy or its verification.
        configuration.purgesInBackground = false
        let directory = configuration.dataDirectory
        let databasePath = (directory as NSString).appendingPathComponent(SQLiteStorage.fileName)
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw LocalVaultError(.internalError, "there is no vault store in \(directory)")
        }
        // Exclusive: refused while a `vault serve` (or any vault) has the store open, and none can
        // open it until the migration ends. Opening checks the root key against the store.
        let source = try LocalVault(configuration: configuration, exclusive: true)
        let copied = try await copyStore(from: source.storage, to: destination, batchSize: batchSize) {
            progress(.copied($0))
        }
        let target = try await LocalVault.open(
            storage: destination,
            configuration: configuration,
            storeDescription: destinationDescription
        )
        let verified = try await verifyCopy(of: source, in: target, batchSize: batchSize, progress: progress)
        let (sourceCounts, targetCounts) = try await migrationStep("cannot count the rows") {
            (try await source.storage.rowCounts(), try await destination.rowCounts())
        }
        for table in StoreTable.allCases where sourceCounts[table] != targetCounts[table] {
            throw verificationFailed(
                "table \(table.name) holds \(sourceCounts[table]) rows in the source and \(targetCounts[table]) "
                    + "in the copy"
            )
        }
        return StoreMigrationReport(
            copied: copied,
            verifiedObjects: verified,
            source: directory,
            destination: destinationDescription
        )
    }

    /// Reads every live object of every environment from both vaults and compares them whole.
    /// - Returns: how many objects were verified.
    private static func verifyCopy(
        of source: LocalVault,
        in target: LocalVault,
        batchSize: Int,
        progress: (StoreMigrationProgress) -> Void
    ) async throws -> Int {
        var verified = 0
        var cursor: StoreCursor? = StoreCursor(table: .objects)
        while let current = cursor, current.table == .objects {
            let batch = try await migrationStep("cannot read the source") {
                try await source.storage.exportRows(after: current, limit: max(batchSize, 1))
            }
            guard case .objects(let objects) = batch.rows else { break }
            for object in objects where object.deletedAt == nil {
                let original: VaultObject
                do {
                    original = try await source.readObject(id: object.id, environmentID: object.environmentID)
                } catch {
                    throw verificationFailed("object \(object.id) does not read from the source: \(reason(error))")
                }
                let copy: VaultObject
                do {
                    copy = try await target.readObject(id: object.id, environmentID: object.environmentID)
                } catch {
                    throw verificationFailed("object \(object.id) does not read from the copy: \(reason(error))")
                }
                guard copy == original else {
                    throw verificationFailed("object \(object.id) reads differently from the copy")
                }
                verified += 1
            }
            progress(.verified(objects: verified))
            cursor = batch.next
        }
        return verified
    }

    private static func verificationFailed(_ what: String) -> LocalVaultError {
        LocalVaultError(
            .internalError,
            "verification failed: \(what) (the source is unchanged; drop the destination and start again)"
        )
    }

    private static func reason(_ error: any Error) -> String {
        (error as? LocalVaultError)?.message ?? LocalVaultError(storageFailure: error)?.message ?? "\(type(of: error))"
    }

    /// `body`, a storage failure in it named by `context` (the engine's own errors as they are).
    private static func migrationStep<Value>(
        _ context: String,
        _ body: () async throws -> Value
    ) async throws -> Value {
        do {
            return try await body()
        } catch let error as LocalVaultError {
            throw LocalVaultError(error.kind, "\(context): \(error.message)", rule: error.rule)
        } catch {
            let failure = LocalVaultError(storageFailure: error)
            throw LocalVaultError(
                failure?.kind ?? .internalError,
                "\(context): \(failure?.message ?? "\(type(of: error))")",
                rule: failure?.rule ?? .other
            )
        }
    }
}

extension StoreRowCounts {
    /// Rows in every table together.
    var total: Int { StoreTable.allCases.reduce(0) { $0 + self[$1] } }
}
