import EnvelopeCrypto

/// What a customer-key provider may show of the associated data it is handed: the environment
/// that issued the data key, for AWS KMS's encryption context (visible in CloudTrail, and required
/// again to decrypt).
package enum CustomerKeyBinding {
    /// The environment id bound into a customer-key entry's associated data (``KeysBlob``
    /// version 2); nil for version 1, which binds none, or for anything else.
    package static func environmentID(in associatedData: [UInt8]) -> String? {
        let prefix = KeysBlobPrefix.localVault
        // prefix | version | data key id (16) | kind | LEB128 id length | id | environment id
        let kindOffset = prefix.count + 1 + 16
        guard associatedData.count > kindOffset + 1, associatedData.starts(with: prefix),
            associatedData[prefix.count] == KeysBlob.Version.environmentBound.rawValue,
            associatedData[kindOffset] == KeysBlob.EntryKind.customer.rawValue
        else { return nil }
        let decoded = associatedData.withUnsafeBytes { LEB128.decode($0, at: kindOffset + 1) }
        guard let (idLength, lengthBytes) = decoded else { return nil }
        let environmentStart = kindOffset + 1 + lengthBytes + Int(idLength)
        guard environmentStart <= associatedData.count else { return nil }
        return String(validating: associatedData[environmentStart...], as: UTF8.self)
    }
}
