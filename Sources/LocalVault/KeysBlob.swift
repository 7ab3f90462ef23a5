import EnvelopeCrypto
import Foundation
import VaultAPI

/// LocalVault's `encrypted_keys` format: a data key wrapped under every KEK of its context.
///
/// ```
/// "LVS.EKM.v1\0" | version 0x01 | data key id (16-byte UUID) | entry count (1..10)
/// entry: kind (0x01 vault KEK, 0x02 customer key) | LEB128 id length | KEK id (UTF-8)
///        | LEB128 wrapped length | wrapped DEK (60 bytes for a vault KEK; a provider's own form for a customer key)
/// ```
/// Each wrapped DEK is AES-256-GCM under its KEK with the header and the entry's kind and id as
/// associated data, so an entry cannot be moved to another blob or relabelled.
struct KeysBlob: Sendable, Hashable {
    static let version: UInt8 = 1
    static let maxEntries = KeyContext.maxPairs
    static let maxFieldLength: UInt32 = 4096

    enum EntryKind: UInt8, Sendable {
        case vault = 1
        case customer = 2
    }

    struct Entry: Sendable, Hashable {
        var kind: EntryKind
        var kekID: String
        var wrappedKey: [UInt8]
    }

    var dataKeyID: UUID
    var entries: [Entry]

    /// The associated data of one entry.
    static func associatedData(dataKeyID: UUID, kind: EntryKind, kekID: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerCount + 1 + kekID.utf8.count)
        appendHeader(dataKeyID: dataKeyID, to: &bytes)
        bytes.append(kind.rawValue)
        bytes.append(contentsOf: kekID.utf8)
        return bytes
    }

    private static let headerCount = KeysBlobPrefix.localVault.count + 1 + 16

    private static func appendHeader(dataKeyID: UUID, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: KeysBlobPrefix.localVault)
        bytes.append(version)
        withUnsafeBytes(of: dataKeyID.uuid) { bytes.append(contentsOf: $0) }
    }

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(
            entries.reduce(Self.headerCount + 1) {
                $0 + 1 + 2 * LEB128.maxByteCount + $1.kekID.utf8.count + $1.wrappedKey.count
            }
        )
        Self.appendHeader(dataKeyID: dataKeyID, to: &bytes)
        bytes.append(UInt8(entries.count))
        for entry in entries {
            bytes.append(entry.kind.rawValue)
            LEB128.append(UInt32(entry.kekID.utf8.count), to: &bytes)
            bytes.append(contentsOf: entry.kekID.utf8)
            LEB128.append(UInt32(entry.wrappedKey.count), to: &bytes)
            bytes.append(contentsOf: entry.wrappedKey)
        }
        return bytes
    }

    /// Parses a blob; `nil` if it is not a well-formed LocalVault keys blob.
    init?(parsing bytes: [UInt8]) {
        let prefix = KeysBlobPrefix.localVault
        let headerCount = Self.headerCount
        guard bytes.count > headerCount, bytes.starts(with: prefix), bytes[prefix.count] == Self.version else {
            return nil
        }
        let uuidBytes = Array(bytes[(prefix.count + 1)..<headerCount])
        dataKeyID = uuidBytes.withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
        let count = Int(bytes[headerCount])
        guard (1...Self.maxEntries).contains(count) else { return nil }
        var offset = headerCount + 1
        var entries: [Entry] = []
        let parsed: Bool = bytes.withUnsafeBytes { raw in
            for _ in 0..<count {
                guard offset < raw.count, let kind = EntryKind(rawValue: raw[offset]),
                    let (idLength, idLengthCount) = LEB128.decode(raw, at: offset + 1), idLength <= Self.maxFieldLength
                else { return false }
                let idStart = offset + 1 + idLengthCount
                let idEnd = idStart + Int(idLength)
                guard idEnd <= raw.count, let id = String(validating: raw[idStart..<idEnd], as: UTF8.self),
                    let (keyLength, keyLengthCount) = LEB128.decode(raw, at: idEnd), keyLength <= Self.maxFieldLength
                else { return false }
                let keyStart = idEnd + keyLengthCount
                let end = keyStart + Int(keyLength)
                guard end <= raw.count else { return false }
                entries.append(Entry(kind: kind, kekID: id, wrappedKey: Array(raw[keyStart..<end])))
                offset = end
            }
            return offset == raw.count
        }
        guard parsed else { return nil }
        self.entries = entries
    }

    init(dataKeyID: UUID, entries: [Entry]) {
        self.dataKeyID = dataKeyID
        self.entries = entries
    }
}
