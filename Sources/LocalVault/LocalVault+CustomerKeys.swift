import Synchronization
import VaultAPI

extension LocalVault {
    /// Replaces the customer-managed key (BYOK) mappings, as `vault serve` does on SIGHUP.
    /// Operations that start from now on use the new mappings; those in progress finish with the
    /// old. Data wrapped under a key id that is no longer mapped can no longer be read (403),
    /// as after revoking the key.
    /// - Returns: the mappings taken out of force: those whose context pair is no longer mapped,
    ///   or is now mapped to another key (another key id or key service), for
    ///   ``recordCustomerKeysDeleted(_:environmentIDs:)``.
    @discardableResult
    public func replaceCustomerKeys(_ mappings: [CustomerKeyMapping]) -> [CustomerKeyMapping] {
        let table = Self.customerKeyTable(mappings)
        let previous = customerKeyTable.withLock { current in
            defer { current = table }
            return current
        }
        return previous.sorted { $0.key < $1.key }.compactMap { pair, old in
            guard let new = table[pair], new.keyID == old.keyID, new.provider.keyService == old.provider.keyService
            else { return old }
            return nil
        }
    }

    /// Records `vault.byok_key.deleted` (`organization_id`, `key_provider`, actor ``adminActor``)
    /// in each of `environmentIDs`, for each of `removed` that held an organization's key
    /// (context key `organization_id`) in a cloud key service. Others have no event: it names
    /// an organization and one of the services of `VaultKeyProvider` (a ``FileKeyProvider``
    /// key is in none). Nothing when this vault records no events.
    /// - Throws: the storage's error when the events cannot be written (the mappings stay
    ///   replaced: a key taken out of force is never put back for want of its event).
    public func recordCustomerKeysDeleted(_ removed: [CustomerKeyMapping], environmentIDs: Set<String>) async throws {
        guard let eventRecorder else { return }
        let deletions = removed.compactMap { mapping -> (organizationID: String, service: VaultKeyProvider)? in
            guard mapping.contextKey == Self.organizationKey, let service = mapping.provider.keyService else {
                return nil
            }
            return (mapping.contextValue, service)
        }
        let events = try environmentIDs.sorted().flatMap { environmentID in
            try deletions.map { deletion in
                try Self.event(
                    .byokKeyDeleted,
                    VaultEventData(
                        actor: Self.adminActor,
                        organizationID: deletion.organizationID,
                        keyProvider: deletion.service
                    ),
                    environmentID: environmentID,
                    organizationID: deletion.organizationID
                )
            }
        }
        try await eventRecorder.record(events)
    }

    /// The mappings by `key NUL value`; of two for the same pair, the last wins.
    static func customerKeyTable(_ mappings: [CustomerKeyMapping]) -> [String: CustomerKeyMapping] {
        Dictionary(
            mappings.map { ("\($0.contextKey)\u{0}\($0.contextValue)", $0) },
            uniquingKeysWith: { _, last in last }
        )
    }
}
