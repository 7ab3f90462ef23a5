// Client values that hold a data key, wrapped keys or plaintext print and dump their ids at most.

extension ResolvedDataKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "ResolvedDataKey(id: \(id), redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["id": id], displayStyle: .struct) }
}

extension Vault.EncryptItem: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Nothing of the item: the plaintext is secret, the context and associated data are the caller's.
    public var description: String { "EncryptItem(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension Vault.DecryptItem: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Nothing of the item: the blob holds wrapped keys.
    public var description: String { "DecryptItem(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
