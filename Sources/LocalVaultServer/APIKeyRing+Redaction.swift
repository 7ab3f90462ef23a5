extension APIKeyRing.Entry: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Where the entry came from; never the key.
    public var description: String { "APIKeyRing.Entry(\(origin), redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["origin": origin], displayStyle: .struct) }
}
