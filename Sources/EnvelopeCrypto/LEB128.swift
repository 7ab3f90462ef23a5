/// Unsigned LEB128 for 32-bit lengths, as the blob layouts use it.
///
/// Decoding is strict: at most 5 bytes, values above 2^32-1 rejected, and non-minimal encodings
/// (a redundant trailing `0x00` group, such as `80 00` for 0) rejected, so every length has exactly
/// one encoding.
package enum LEB128 {
    package static let maxByteCount = 5

    /// The number of bytes `value` encodes to (1 to 5).
    package static func byteCount(of value: UInt32) -> Int {
        var count = 1
        var rest = value >> 7
        while rest != 0 {
            count += 1
            rest >>= 7
        }
        return count
    }

    /// Writes the minimal encoding of `value` at `destination`; returns the byte count.
    @discardableResult
    package static func write(_ value: UInt32, to destination: UnsafeMutableRawPointer) -> Int {
        var rest = value
        var index = 0
        while rest >= 0x80 {
            destination.storeBytes(of: UInt8(truncatingIfNeeded: rest) | 0x80, toByteOffset: index, as: UInt8.self)
            rest >>= 7
            index += 1
        }
        destination.storeBytes(of: UInt8(rest), toByteOffset: index, as: UInt8.self)
        return index + 1
    }

    /// The minimal encoding of `value`.
    package static func encode(_ value: UInt32) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: maxByteCount) { buffer, count in
            count = write(value, to: UnsafeMutableRawPointer(buffer.baseAddress!))
        }
    }

    /// Appends the minimal encoding of `value` to `bytes`.
    package static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        withUnsafeTemporaryAllocation(byteCount: maxByteCount, alignment: 1) { buffer in
            let count = write(value, to: buffer.baseAddress!)
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// Decodes a value starting at `offset`, or returns `nil` if the bytes run out or the encoding
    /// is overlong, overflowing or non-minimal.
    package static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> (value: UInt32, byteCount: Int)? {
        var value: UInt32 = 0
        var index = 0
        while index < maxByteCount {
            guard offset + index < bytes.count else { return nil }
            let byte = bytes[offset + index]
            let group = UInt32(byte & 0x7F)
            if index == maxByteCount - 1, group > 0x0F { return nil }  // bits past 2^32-1
            value |= group << (7 * UInt32(index))
            index += 1
            if byte & 0x80 == 0 {
                if index > 1, byte == 0 { return nil }  // non-minimal: a redundant zero group
                return (value, index)
            }
        }
        return nil  // a continuation bit on the fifth byte
    }
}
