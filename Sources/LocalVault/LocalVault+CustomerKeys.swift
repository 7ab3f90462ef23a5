import Synchronization

extension LocalVault {
    /// Replaces the customer-managed key (BYOK) mappings, as `vault serve` does on SIGHUP.
    /// Operations that start from now on use the new mappings; those in progress finish with the
    /// old. Data wrapped under a key id that is no longer mapped can no longer be read (403),
    /// as after revoking the key.
    public func replaceCustomerKeys(_ mappings: [CustomerKeyMapping]) {
        let table = Self.customerKeyTable(mappings)
        customerKeyTable.withLock { $0 = table }
    }

    /// The mappings by `key NUL value`; of two for the same pair, the last wins.
    static func customerKeyTable(_ mappings: [CustomerKeyMapping]) -> [String: CustomerKeyMapping] {
        Dictionary(
            mappings.map { ("\($0.contextKey)\u{0}\($0.contextValue)", $0) },
            uniquingKeysWith: { _, last in last }
        )
    }
}
