import EnvelopeCrypto
import Foundation
import VaultAPI

/// LocalVault's `encrypted_keys` format: a data key wrapped under every KEK of its context.
///
/// ```
/// "LVS.EKM.v1\0" | version (0x01 or 0x02) | data key id (16-byte UUID) | entry count (1..10)
/// entry: kind (0x01 vault KEK, 0x02 customer key) | LEB128 id length | KEK id (UTF-8)
///        | LEB128 wrapped length | wrapped DEK (60 bytes for a vault KEK; a provider's own form for a customer key)
/// ```
/// Each wrapped DEK is AES-256-GCM under its KEK with associated data that binds it to the header
/// (prefix, version, data key id) and to the entry's kind and id, so an entry cannot be moved to
/// another blob or relabelled. Version 2 (written since the environment fix) also binds the
/// environment that issued the key: a blob used in another environment does not open there.
/// Version 1 blobs bind no environment; ``LocalVault`` reads them only where their environment
/// is shown (see ``LocalVaultConfiguration/legacyCustomerKeyEnvironments``).
struct KeysBlob: Sendable, Hashable {
    /// The format versions; the version is part of every entry's associated data, so a blob
    /// relabelled to another version opens under neither.
    enum Version: UInt8, Sendable {
        /// Before the environment fix: entries bind the header, kind and KEK id only.
        case environmentUnbound = 1
        /// Entries also bind the issuing environment.
        case environmentBound = 2
    }

    /// The version new blobs are written in.
    static let currentVersion = Version.environmentBound
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

    var version: Version
    var dataKeyID: UUID
    var entries: [Entry]

    /// The associated data of one entry of this blob, as used in `environmentID`.
    func associatedData(kind: EntryKind, kekID: String, environmentID: String) -> [UInt8] {
        Self.associatedData(
            version: version,
            dataKeyID: dataKeyID,
            kind: kind,
            kekID: kekID,
            environmentID: environmentID
        )
    }

    /// The associated data of one entry. Version 1 ends with the KEK id; version 2 prefixes the
    /// KEK id with its length so that the environment id after it cannot be shifted into it.
    static func associatedData(
        version: Version,
        dataKeyID: UUID,
        kind: EntryKind,
        kekID: String,
        environmentID: String
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerCount + 1 + LEB128.maxByteCount + kekID.utf8.count + environmentID.utf8.count)
        appendHeader(version: version, dataKeyID: dataKeyID, to: &bytes)
        bytes.append(kind.rawValue)
        switch version {
        case .environmentUnbound:
            bytes.append(contentsOf: kekID.utf8)
        case .environmentBound:
            LEB128.append(UInt32(kekID.utf8.count), to: &bytes)
            bytes.append(contentsOf: kekID.utf8)
            bytes.append(contentsOf: environmentID.utf8)
        }
        return bytes
    }

    private static let headerCount = KeysBlobPrefix.localVault.count + 1 + 16

    private static func appendHeader(version: Version, dataKeyID: UUID, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: KeysBlobPrefix.localVault)
        bytes.append(version.rawValue)
        withUnsafeBytes(of: dataKeyID.uuid) { bytes.append(contentsOf: $0) }
    }

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(
            entries.reduce(Self.headerCount + 1) {
                $0 + 1 + 2 * LEB128.maxByteCount + $1.kekID.utf8.count + $1.wrappedKey.count
            }
        )
        Self.appendHeader(version: version, dataKeyID: dataKeyID, to: &bytes)
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

    /// Parses a blob of either version; `nil` if it is not a well-formed LocalVault keys blob.
    init?(parsing bytes: [UInt8]) {
        let prefix = KeysBlobPrefix.localVault
        let headerCount = Self.headerCount
        guard bytes.count > headerCount, bytes.starts(with: prefix),
            let version = Version(rawValue: bytes[prefix.count])
        else {
            return nil
        }
        self.version = version
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

    init(version: Version = Self.currentVersion, dataKeyID: UUID, entries: [Entry]) {
        self.version = version
        self.dataKeyID = dataKeyID
        self.entries = entries
    }
}
