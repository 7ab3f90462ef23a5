import Foundation
import VaultAPI

/// Events: the audit trail of who read and changed what, served by `GET /events` (see
/// EventRows.swift for the chain). Recorded only when ``LocalVaultConfiguration/recordsEvents``.
extension LocalVault {
    /// The actor of the events `vault admin` commands record (a KEK retirement): no API key
    /// is involved, the operator at the store is.
    public static let adminActor = VaultActor(id: "admin", name: "vault admin")

    /// Whether this vault records events.
    public var recordsEvents: Bool { eventRecorder != nil }

    // MARK: Recording

    /// The events a write appends in its own transaction: none when the vault records none.
    func writeEvents(
        _ type: VaultEventType,
        _ data: VaultEventData,
        caller: VaultCaller,
        organizationID: String?
    ) throws -> [NewVaultEvent] {
        guard recordsEvents else { return [] }
        return [try Self.event(type, data, environmentID: caller.environmentID, organizationID: organizationID)]
    }

    /// Commits a read's event, returning once it is durable.
    /// - Throws: the storage's error if it cannot be written: the read must then fail.
    func recordRead(
        _ type: VaultEventType,
        _ data: VaultEventData,
        caller: VaultCaller,
        organizationID: String?
    ) async throws {
        guard let eventRecorder else { return }
        try await eventRecorder.record([
            try Self.event(type, data, environmentID: caller.environmentID, organizationID: organizationID)
        ])
    }

    /// The events of a delete, made by the storage once it knows the object's name.
    func deletedEvents(caller: VaultCaller) -> DeletedObjectEvents? {
        guard recordsEvents else { return nil }
        return DeletedObjectEvents { name, contextJSON in
            [
                try Self.event(
                    .dataDeleted,
                    VaultEventData(actor: caller.actor, kvName: name),
                    environmentID: caller.environmentID,
                    organizationID: Self.organizationID(ofStored: contextJSON)
                )
            ]
        }
    }

    /// Makes the `vault.kek.created` event of a pair's first KEK, given its id (nil: none).
    func kekCreatedEvent(_ name: KEKName, actor: VaultActor?) -> (@Sendable (String) throws -> NewVaultEvent)? {
        guard recordsEvents, let actor else { return nil }
        return { id in
            try Self.event(
                .kekCreated,
                VaultEventData(actor: actor, keyID: id, keyName: Self.keyName(name)),
                environmentID: name.environmentID,
                organizationID: name.contextKey == Self.organizationKey ? name.contextValue : nil
            )
        }
    }

    /// The actor of the KEK versions a `--kek-max-age` policy creates
    /// (``rotateKEKs(olderThan:now:)``): no API key or operator asked for them.
    public static let rotationPolicyActor = VaultActor(id: "kek-max-age", name: "KEK max-age policy")

    /// Records `vault.kek.created` (a rotation's new versions) or `vault.kek.deleted` (retired
    /// versions) for KEKs of `name`, after the change committed (the change stands if this throws).
    func recordKEKEvents(_ type: VaultEventType, _ ids: Set<String>, of name: KEKName, actor: VaultActor) async throws {
        guard let eventRecorder, !ids.isEmpty else { return }
        let events = try ids.sorted().map { id in
            try Self.event(
                type,
                VaultEventData(actor: actor, keyID: id, keyName: Self.keyName(name)),
                environmentID: name.environmentID,
                organizationID: name.contextKey == Self.organizationKey ? name.contextValue : nil
            )
        }
        try await eventRecorder.record(events)
    }

    /// Records `vault.byok_key.verification_completed`: the outcome of a round trip through the
    /// customer-managed key of `organizationID` (`vault admin verify-customer-key`).
    /// - Throws: ``LocalVaultError`` (internalError) when this vault records no events; the
    ///   storage's error when the event cannot be written.
    public func recordCustomerKeyVerification(
        organizationID: String,
        provider: VaultKeyProvider,
        verified: Bool,
        environmentID: String
    ) async throws {
        guard let eventRecorder else {
            throw LocalVaultError(.internalError, "this vault does not record events")
        }
        try await eventRecorder.record([
            try Self.event(
                .byokKeyVerificationCompleted,
                VaultEventData(organizationID: organizationID, keyProvider: provider, verified: verified),
                environmentID: environmentID,
                organizationID: organizationID
            )
        ])
    }

    /// A KEK's name in events: its context pair, `key:value`.
    static func keyName(_ name: KEKName) -> String { "\(name.contextKey):\(name.contextValue)" }

    /// The context key `GET /events?organization_id=` filters on.
    static let organizationKey = "organization_id"

    static func organizationID(of context: KeyContext?) -> String? { context?.pairs[organizationKey] }

    static func organizationID(ofStored contextJSON: String) -> String? {
        organizationID(of: try? JSONDecoder().decode(KeyContext.self, from: Data(contextJSON.utf8)))
    }

    static func event(
        _ type: VaultEventType,
        _ data: VaultEventData,
        environmentID: String,
        organizationID: String?
    ) throws -> NewVaultEvent {
        let now = Date().storedMilliseconds
        return NewVaultEvent(
            id: try EventIdentifier.make(at: now),
            environmentID: environmentID,
            type: type.rawValue,
            // The stored text is what the chain hashes.
            dataJSON: data.canonicalJSON,
            createdAt: now,
            organizationID: organizationID
        )
    }

    // MARK: Reading

    /// A page of the environment's events (GET /events), newest first unless `query.order` says
    /// otherwise; `after` and `before` are event ids from a previous page, as for objects.
    /// - Throws: ``LocalVaultError``: 422 for a limit outside 1...100, no event type, or an
    ///   unknown cursor.
    public func listEvents(_ query: EventListQuery, environmentID: String) async throws -> EventList {
        guard (1...EventListQuery.maxLimit).contains(query.limit) else {
            throw LocalVaultError(.unprocessable, "limit must be 1 to \(EventListQuery.maxLimit)")
        }
        guard !query.events.isEmpty else { throw LocalVaultError(.unprocessable, "events must name an event type") }
        let cursorID = query.before ?? query.after
        if let cursorID, ControlCharacters.occur(in: cursorID) { throw Self.unknownEventCursor }
        let backwards = query.before != nil
        let filter = EventFilter(
            environmentID: environmentID,
            types: query.events.map(\.rawValue).sorted(),
            organizationID: query.organizationID,
            rangeStart: query.rangeStart?.storedMilliseconds,
            rangeEnd: query.rangeEnd?.storedMilliseconds,
            cursorID: cursorID,
            ascending: (query.order == .ascending) != backwards,
            limit: query.limit
        )
        guard let rows = try await storage.events(filter) else { throw Self.unknownEventCursor }
        let page = ListPage(rows: rows, limit: query.limit, backwards: backwards, after: query.after)
        let events = try page.rows.map(Self.wireEvent)
        return EventList(data: events, listMetadata: page.metadata(id: \.event.id))
    }

    static let unknownEventCursor = LocalVaultError(.unprocessable, "the list cursor does not name an event")

    private static func wireEvent(_ row: StoredVaultEvent) throws -> VaultEvent {
        guard let type = VaultEventType(rawValue: row.event.type),
            let data = try? JSONDecoder().decode(VaultEventData.self, from: Data(row.event.dataJSON.utf8))
        else { throw LocalVaultError(.internalError, "the stored event \(row.event.id) does not parse") }
        return VaultEvent(
            id: row.event.id,
            event: type,
            data: data,
            createdAt: Date(storedMilliseconds: row.event.createdAt)
        )
    }

    // MARK: Retention

    /// Deletes the events created before `cutoff`, in every environment; the chains stay
    /// verifiable from their oldest retained event. Returns how many were deleted.
    @discardableResult
    public func purgeEvents(createdBefore cutoff: Date) async throws -> Int {
        try await storage.purgeEvents(createdBefore: cutoff.storedMilliseconds)
    }
}
