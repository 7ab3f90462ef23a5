// Engine values that hold keys, wrapped keys or stored responses dump without them (`dump()`
// walks stored properties, class storage included, unless a type supplies its own mirror).

extension LocalVault: CustomReflectable {
    /// No children: the vault holds the root key, unwrapped KEKs and replayable responses.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}

extension LocalVault.IdempotencyClaim: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The case and the status only: a stored body may hold a data key.
    public var description: String {
        switch self {
        case .claimed: "claimed"
        case .replay(let status, _): "replay(status: \(status), body: redacted)"
        case .inProgress: "inProgress"
        case .mismatch: "mismatch"
        }
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        switch self {
        case .replay(let status, _): Mirror(self, children: ["status": status], displayStyle: .enum)
        default: Mirror(self, children: [], displayStyle: .enum)
        }
    }
}
