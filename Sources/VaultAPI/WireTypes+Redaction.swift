// Bodies that hold a data key, wrapped keys or a value print and dump their ids only: a stray
// `print(response)` or `dump(object)` must not write a secret to a log.

extension DataKeyResponse: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "DataKeyResponse(id: \(id), redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["id": id], displayStyle: .struct) }
}

extension DecryptDataKeyRequest: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "DecryptDataKeyRequest(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension DecryptDataKeyResponse: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "DecryptDataKeyResponse(id: \(id), redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["id": id], displayStyle: .struct) }
}

extension RekeyRequest: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "RekeyRequest(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension CreateObjectRequest: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "CreateObjectRequest(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension UpdateObjectRequest: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "UpdateObjectRequest(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension VaultObject: CustomDebugStringConvertible, CustomReflectable {
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["id": id], displayStyle: .struct) }
}
