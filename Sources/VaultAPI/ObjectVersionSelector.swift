/// Which version of an object to read (`GET /vault/v1/kv/{id}/versions/{version}`, this
/// project's extension of the WorkOS API): by its id, or by its number.
public enum ObjectVersionSelector: Sendable, Hashable {
    /// The version with this id (``ObjectVersion/id``, ``ObjectMetadata/versionID``).
    case id(String)
    /// The version with this number (``ObjectVersion/version``, ``ObjectMetadata/version``).
    case number(Int)

    /// The selector a path segment names: a number when it is all ASCII digits (version ids never
    /// are), an id otherwise. Digits too many for an `Int` name no version (nil).
    public init?(pathSegment: String) {
        guard !pathSegment.isEmpty else { return nil }
        if pathSegment.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            guard let number = Int(pathSegment) else { return nil }
            self = .number(number)
        } else {
            self = .id(pathSegment)
        }
    }

    /// The path segment that names this version.
    public var pathSegment: String {
        switch self {
        case .id(let id): id
        case .number(let number): String(number)
        }
    }
}
