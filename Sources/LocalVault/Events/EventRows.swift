import EnvelopeCrypto
import Foundation
import VaultAPI

/// An event to append: what the engine knows before the store numbers and chains it.
package struct NewVaultEvent: Sendable, Hashable {
    package var id: String
    package var environmentID: String
    package var type: String
    /// ``VaultEventData`` as JSON with sorted keys; never a value or key.
    package var dataJSON: String
    package var createdAt: Int64
    /// The `organization_id` of the event's key context, for `GET /events?organization_id=`.
    package var organizationID: String?

    package init(
        id: String,
        environmentID: String,
        type: String,
        dataJSON: String,
        createdAt: Int64,
        organizationID: String?
    ) {
        self.id = id
        self.environmentID = environmentID
        self.type = type
        self.dataJSON = dataJSON
        self.createdAt = createdAt
        self.organizationID = organizationID
    }
}

/// An event row as stored: its place in its environment's chain and its hashes.
package struct StoredVaultEvent: Sendable, Hashable {
    package var event: NewVaultEvent
    /// 1, 2, 3... per environment, in commit order.
    package var sequence: Int64
    /// The hash of the event before it in the environment (``EventChain/genesis`` for the first).
    package var prevHash: String
    package var hash: String

    package init(event: NewVaultEvent, sequence: Int64, prevHash: String, hash: String) {
        self.event = event
        self.sequence = sequence
        self.prevHash = prevHash
        self.hash = hash
    }
}

/// Where an environment's chain ends: its last sequence and hash (kept when old events are purged).
package struct EventChainHead: Sendable, Hashable {
    package var sequence: Int64
    package var hash: String

    package init(sequence: Int64, hash: String) {
        self.sequence = sequence
        self.hash = hash
    }

    /// The head of an environment without events.
    package static let empty = EventChainHead(sequence: 0, hash: EventChain.genesis)
}

/// The tamper-evident chain: each event's hash is SHA-256 over the previous hash and the
/// event's canonical form, so an edited, removed or reordered row breaks every later link.
package enum EventChain {
    /// The previous hash of an environment's first event.
    package static let genesis = String(repeating: "0", count: 64)

    /// The row that follows `head`, hashed.
    package static func chained(_ event: NewVaultEvent, after head: EventChainHead) -> StoredVaultEvent {
        let sequence = head.sequence + 1
        return StoredVaultEvent(
            event: event,
            sequence: sequence,
            prevHash: head.hash,
            hash: hash(event, sequence: sequence, prevHash: head.hash)
        )
    }

    /// The hash of a row: each field length-prefixed, so that no two rows serialize alike.
    package static func hash(_ event: NewVaultEvent, sequence: Int64, prevHash: String) -> String {
        // One buffer, no intermediate strings: this runs for every event of every group commit.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160 + event.dataJSON.utf8.count)
        bytes.append(contentsOf: "lvs.event.v1\n".utf8)
        func field(_ text: some Collection<UInt8>) {
            appendDecimal(text.count, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            bytes.append(contentsOf: text)
            bytes.append(0x0A)
        }
        field(prevHash.utf8)
        // Short enough to stay inline (no allocation).
        field(String(sequence).utf8)
        field(event.id.utf8)
        field(event.environmentID.utf8)
        field(event.type.utf8)
        field(String(event.createdAt).utf8)
        field((event.organizationID ?? "").utf8)
        field(event.organizationID == nil ? "0".utf8 : "1".utf8)
        field(event.dataJSON.utf8)
        return SHA256.hexDigest(bytes)
    }

    /// A count in decimal digits, as `String(count)` writes it, without a string.
    private static func appendDecimal(_ count: Int, to bytes: inout [UInt8]) {
        let start = bytes.count
        var rest = count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        bytes[start...].reverse()
    }
}

/// One page's worth of `GET /events`, in the storage's terms. `ascending` is the reading order;
/// the engine flips pages and builds cursors as for objects.
package struct EventFilter: Sendable, Hashable {
    package var environmentID: String
    package var types: [String]
    package var organizationID: String?
    /// Created at or after (ms).
    package var rangeStart: Int64?
    /// Created before (ms).
    package var rangeEnd: Int64?
    /// The event id the page starts after (in reading order).
    package var cursorID: String?
    package var ascending: Bool
    package var limit: Int

    package init(
        environmentID: String,
        types: [String],
        organizationID: String?,
        rangeStart: Int64?,
        rangeEnd: Int64?,
        cursorID: String?,
        ascending: Bool,
        limit: Int
    ) {
        self.environmentID = environmentID
        self.types = types
        self.organizationID = organizationID
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.cursorID = cursorID
        self.ascending = ascending
        self.limit = limit
    }
}

/// Event ids: `event_` and 26 Crockford base-32 digits (48 bits of milliseconds, 80 random
/// bits), like the ULIDs of WorkOS ids: unique, and sorted by time.
enum EventIdentifier {
    private static let digits = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    static func make(at milliseconds: Int64) throws -> String {
        let random = try RandomIdentifier.uuidBytes()
        // The UUID's version and variant bytes (6 and 8) are not random: left out.
        let randomBytes =
            [random[0], random[1], random[2], random[3], random[4], random[5], random[7]]
            + random[9...11]
        var value = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { value[index] = UInt8(truncatingIfNeeded: UInt64(milliseconds) >> (40 - 8 * index)) }
        for (offset, byte) in randomBytes.enumerated() { value[6 + offset] = byte }
        // 128 bits as 26 digits of 5 bits (the first digit holds 3).
        var output: [UInt8] = []
        output.reserveCapacity(26)
        var accumulator: UInt32 = 0
        var bits = 2  // 26 x 5 = 130: two leading zero bits.
        for byte in value {
            accumulator = (accumulator << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                output.append(digits[Int((accumulator >> UInt32(bits)) & 0x1F)])
            }
        }
        return "event_" + String(decoding: output, as: UTF8.self)
    }
}
