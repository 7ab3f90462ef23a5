/// Which keys wrap the data key of a LocalVault `encrypted_keys` blob, read from the blob's entries
/// without unwrapping anything: customer-managed keys (BYOK) by id, and how many Vault-managed
/// KEKs. Nothing here is secret: the entries name their keys in clear.
public struct LocalVaultKeyWrapping: Sendable, Hashable {
    /// The ids (``CustomerKeyMapping/keyID``) of the customer-managed keys that wrap the data key.
    public let customerKeyIDs: [String]
    /// How many Vault-managed KEKs wrap the data key.
    public let vaultKEKCount: Int

    /// Reads the entries of `encryptedKeys`.
    /// - Returns: nil when `encryptedKeys` is not a well-formed LocalVault keys blob (a
    ///   WorkOS-issued one, for instance).
    public init?(encryptedKeys: [UInt8]) {
        guard let blob = KeysBlob(parsing: encryptedKeys) else { return nil }
        customerKeyIDs = blob.entries.filter { $0.kind == .customer }.map(\.kekID)
        vaultKEKCount = blob.entries.count { $0.kind == .vault }
    }

    /// Whether a customer-managed key wraps the data key.
    public var usesCustomerManagedKey: Bool { !customerKeyIDs.isEmpty }
}
