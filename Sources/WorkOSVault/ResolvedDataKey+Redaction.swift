// Client values that hold a data key or wrapped keys print and dump their ids only.

extension ResolvedDataKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "ResolvedDataKey(id: \(id), redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["id": id], displayStyle: .struct) }
}
