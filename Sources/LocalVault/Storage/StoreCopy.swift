import VaultAPI

/// The tables a store copy walks (``VaultStorage/exportRows(after:limit:)``), in the order it
/// copies them: an object before its versions (the foreign key), the `meta` rows first so that a
/// destination that holds anything holds the root-key check too.
package enum StoreTable: Int, CaseIterable, Sendable, Comparable {
    case meta
    case keks
    case quarantinedKEKs
    case objects
    case objectVersions
    case idempotencyRecords
    /// Events: an environment's chain is copied as it is (sequences and hashes), so that it
    /// still verifies in the copy.
    case events
    case eventChainHeads

    /// The table copied after this one; nil for the last.
    package var next: StoreTable? { StoreTable(rawValue: rawValue + 1) }

    /// The table's name in both schemas, for messages.
    package var name: String {
        switch self {
        case .meta: "meta"
        case .keks: "keks"
        case .quarantinedKEKs: "keks_quarantine"
        case .objects: "objects"
        case .objectVersions: "object_versions"
        case .idempotencyRecords: "idempotency_keys"
        case .events: "events"
        case .eventChainHeads: "event_chain_heads"
        }
    }

    package static func < (lhs: StoreTable, rhs: StoreTable) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Where an export stands: the table, and the primary key of the last row exported from it
/// (empty at the table's start; one id, a `meta` name, or the scope and key of an idempotency
/// record). Rows are exported in primary-key order, compared byte for byte.
package struct StoreCursor: Sendable, Hashable {
    package var table: StoreTable
    package var lastKey: [String]

    package init(table: StoreTable, lastKey: [String] = []) {
        self.table = table
        self.lastKey = lastKey
    }

    /// The start of the first table.
    package static let start = StoreCursor(table: .meta)

    /// The cursor after `rows` of `table` read with `limit`: the same table after the last row
    /// when the page was full, else the start of the next table (nil after the last).
    package static func after(_ table: StoreTable, lastKey: [String]?, count: Int, limit: Int) -> StoreCursor? {
        if count >= limit, let lastKey { return StoreCursor(table: table, lastKey: lastKey) }
        return table.next.map { StoreCursor(table: $0) }
    }
}

/// The rows of a store as they are, for a copy to another backend: wrapped keys and sealed values
/// are moved byte for byte (their associated data binds ids, pairs and versions, never the store),
/// so the copy opens under the same root key.
package enum StoreRow {
    /// A `meta` row (the root-key check value, where a rotation wrote the new key).
    package struct Meta: Sendable, Hashable {
        package var name: String
        package var value: [UInt8]

        package init(name: String, value: [UInt8]) {
            self.name = name
            self.value = value
        }
    }

    /// A KEK version, retired or not.
    package struct KEK: Sendable {
        package var kek: StoredKEK
        /// When it was retired (it no longer unwraps); nil while usable.
        package var retiredAt: Int64?

        package init(kek: StoredKEK, retiredAt: Int64?) {
            self.kek = kek
            self.retiredAt = retiredAt
        }
    }

    /// A KEK row moved to the quarantine (see KEKRing's healing).
    package struct QuarantinedKEK: Sendable {
        package var id: String
        package var name: KEKName
        /// Nil from SQLite, whose quarantine keeps no version (PostgreSQL's column defaults to 1).
        package var version: Int?
        package var wrappedKey: [UInt8]
        package var createdAt: Int64
        package var quarantinedAt: Int64

        package init(
            id: String,
            name: KEKName,
            version: Int?,
            wrappedKey: [UInt8],
            createdAt: Int64,
            quarantinedAt: Int64
        ) {
            self.id = id
            self.name = name
            self.version = version
            self.wrappedKey = wrappedKey
            self.createdAt = createdAt
            self.quarantinedAt = quarantinedAt
        }
    }

    /// An object, live or deleted (awaiting its purge at `purgeAt`, holding its name).
    package struct Object: Sendable {
        package var id: String
        package var environmentID: String
        package var name: String
        package var contextJSON: String
        package var createdAt: Int64
        package var updatedAt: Int64
        package var updatedBy: VaultActor
        package var currentVersionID: String
        package var deletedAt: Int64?
        package var purgeAt: Int64?

        package init(
            id: String,
            environmentID: String,
            name: String,
            contextJSON: String,
            createdAt: Int64,
            updatedAt: Int64,
            updatedBy: VaultActor,
            currentVersionID: String,
            deletedAt: Int64?,
            purgeAt: Int64?
        ) {
            self.id = id
            self.environmentID = environmentID
            self.name = name
            self.contextJSON = contextJSON
            self.createdAt = createdAt
            self.updatedAt = updatedAt
            self.updatedBy = updatedBy
            self.currentVersionID = currentVersionID
            self.deletedAt = deletedAt
            self.purgeAt = purgeAt
        }
    }

    /// One version of an object, with its number, writer and sealed value.
    package struct ObjectVersion: Sendable {
        package var id: String
        package var objectID: String
        package var number: Int
        package var createdAt: Int64
        package var createdBy: VaultActor
        package var size: Int
        package var etag: String
        package var dataKeyID: String
        package var sealedValue: [UInt8]

        package init(
            id: String,
            objectID: String,
            number: Int,
            createdAt: Int64,
            createdBy: VaultActor,
            size: Int,
            etag: String,
            dataKeyID: String,
            sealedValue: [UInt8]
        ) {
            self.id = id
            self.objectID = objectID
            self.number = number
            self.createdAt = createdAt
            self.createdBy = createdBy
            self.size = size
            self.etag = etag
            self.dataKeyID = dataKeyID
            self.sealedValue = sealedValue
        }
    }

    /// A durable idempotency record: a claim, or a response sealed under the root key.
    package struct IdempotencyRecord: Sendable {
        package var scope: String
        package var key: String
        package var requestHash: String
        package var status: Int?
        package var sealedBody: [UInt8]?
        package var createdAt: Int64

        package init(
            scope: String,
            key: String,
            requestHash: String,
            status: Int?,
            sealedBody: [UInt8]?,
            createdAt: Int64
        ) {
            self.scope = scope
            self.key = key
            self.requestHash = requestHash
            self.status = status
            self.sealedBody = sealedBody
            self.createdAt = createdAt
        }
    }
}

extension StoreRow {
    /// An environment's chain head.
    package struct EventChainHeadRow: Sendable, Hashable {
        package var environmentID: String
        package var head: EventChainHead

        package init(environmentID: String, head: EventChainHead) {
            self.environmentID = environmentID
            self.head = head
        }
    }
}

/// The rows of one table, as one export page holds them.
package enum StoreRows: Sendable {
    case meta([StoreRow.Meta])
    case keks([StoreRow.KEK])
    case quarantinedKEKs([StoreRow.QuarantinedKEK])
    case objects([StoreRow.Object])
    case objectVersions([StoreRow.ObjectVersion])
    case idempotencyRecords([StoreRow.IdempotencyRecord])
    case events([StoredVaultEvent])
    case eventChainHeads([StoreRow.EventChainHeadRow])

    package var table: StoreTable {
        switch self {
        case .meta: .meta
        case .keks: .keks
        case .quarantinedKEKs: .quarantinedKEKs
        case .objects: .objects
        case .objectVersions: .objectVersions
        case .idempotencyRecords: .idempotencyRecords
        case .events: .events
        case .eventChainHeads: .eventChainHeads
        }
    }

    package var count: Int {
        switch self {
        case .meta(let rows): rows.count
        case .keks(let rows): rows.count
        case .quarantinedKEKs(let rows): rows.count
        case .objects(let rows): rows.count
        case .objectVersions(let rows): rows.count
        case .idempotencyRecords(let rows): rows.count
        case .events(let rows): rows.count
        case .eventChainHeads(let rows): rows.count
        }
    }
}

/// One page of an export (at most `limit` rows of one table) and where the next one starts.
///
/// It holds names, key contexts, wrapped keys and sealed values: `description`, `debugDescription`
/// and `dump()` show its table and row count only.
package struct StoreRowBatch: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    package var rows: StoreRows
    /// Where the next page starts; nil when the store is read to its end.
    package var next: StoreCursor?

    package init(rows: StoreRows, next: StoreCursor?) {
        self.rows = rows
        self.next = next
    }

    package var description: String { "StoreRowBatch(\(rows.table.name): \(rows.count) rows, redacted)" }
    package var debugDescription: String { description }
    package var customMirror: Mirror {
        Mirror(self, children: ["table": rows.table.name, "rows": rows.count], displayStyle: .struct)
    }
}

/// How many rows each table of a store holds (``VaultStorage/rowCounts()``).
package struct StoreRowCounts: Sendable, Hashable {
    package var meta = 0
    package var keks = 0
    package var quarantinedKEKs = 0
    package var objects = 0
    package var objectVersions = 0
    package var idempotencyRecords = 0
    package var events = 0
    package var eventChainHeads = 0

    package init() {}

    package subscript(table: StoreTable) -> Int {
        get {
            switch table {
            case .meta: meta
            case .keks: keks
            case .quarantinedKEKs: quarantinedKEKs
            case .objects: objects
            case .objectVersions: objectVersions
            case .idempotencyRecords: idempotencyRecords
            case .events: events
            case .eventChainHeads: eventChainHeads
            }
        }
        set {
            switch table {
            case .meta: meta = newValue
            case .keks: keks = newValue
            case .quarantinedKEKs: quarantinedKEKs = newValue
            case .objects: objects = newValue
            case .objectVersions: objectVersions = newValue
            case .idempotencyRecords: idempotencyRecords = newValue
            case .events: events = newValue
            case .eventChainHeads: eventChainHeads = newValue
            }
        }
    }

    /// Whether every table is empty.
    package var isZero: Bool { StoreTable.allCases.allSatisfy { self[$0] == 0 } }
}
