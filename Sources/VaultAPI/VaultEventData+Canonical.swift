extension VaultEventData {
    /// The data as JSON written by hand (recording an event is on the hot path of every read):
    /// the fields that are set, keys in byte order, no whitespace, strings as `JSONEncoder`
    /// writes them. `JSONDecoder` reads it back as the same value.
    package var canonicalJSON: String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(256)
        func key(_ name: StaticString) {
            if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            bytes.append(contentsOf: "\":".utf8)
        }
        func string(_ text: String) { PlainJSONString.write(text) { bytes.append(contentsOf: $0) } }
        // In the byte order of the keys.
        if let actorID {
            key("actor_id")
            string(actorID)
        }
        if let actorName {
            key("actor_name")
            string(actorName)
        }
        if let actorSource {
            key("actor_source")
            string(actorSource)
        }
        if let keyContext {
            key("key_context")
            bytes.append(contentsOf: keyContext.canonicalJSON.utf8)
        }
        if let keyID {
            key("key_id")
            string(keyID)
        }
        if let keyIDs {
            key("key_ids")
            bytes.append(UInt8(ascii: "["))
            for (index, id) in keyIDs.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                string(id)
            }
            bytes.append(UInt8(ascii: "]"))
        }
        if let keyName {
            key("key_name")
            string(keyName)
        }
        if let keyProvider {
            key("key_provider")
            string(keyProvider.rawValue)
        }
        if let kvName {
            key("kv_name")
            string(kvName)
        }
        if let organizationID {
            key("organization_id")
            string(organizationID)
        }
        if let verified {
            key("verified")
            bytes.append(contentsOf: (verified ? "true" : "false").utf8)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
