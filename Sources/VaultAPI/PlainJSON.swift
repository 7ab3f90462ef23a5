/// Hand-written JSON for the key calls, shared by the server's endpoints and the client's calls,
/// where Foundation's coders were a large share of the time per request. The reader takes only
/// the plain shape those bodies have (objects and strings without escapes) and answers `false` or
/// `nil` past it, so that callers fall back to `JSONDecoder` with its usual errors.
package struct PlainJSONScanner {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    package init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The next byte after whitespace, without consuming it.
    package mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : nil
    }

    /// Only whitespace is left.
    package mutating func atEnd() -> Bool {
        peek() == nil
    }

    /// An object, calling `member` with each name once the scanner stands before its value;
    /// `member` reads the value and says whether it could.
    package mutating func object(_ member: (inout PlainJSONScanner, String) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return true }
        repeat {
            guard let name = string(), consume(UInt8(ascii: ":")), member(&self, name) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}"))
    }

    /// An object of strings, each name once.
    package mutating func stringObject() -> [String: String]? {
        var members: [String: String] = [:]
        let parsed = object { scanner, name in
            guard members[name] == nil, let value = scanner.string() else { return false }
            members[name] = value
            return true
        }
        return parsed ? members : nil
    }

    /// A string without escapes or control characters, as valid UTF-8.
    package mutating func string() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = position
        var ascii = true
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
                position += 1
                if ascii { return String(decoding: text, as: UTF8.self) }
                return String(validating: text, as: UTF8.self)
            }
            guard byte >= 0x20, byte != UInt8(ascii: "\\") else { return nil }
            if byte >= 0x80 { ascii = false }
            position += 1
        }
        return nil
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard peek() == byte else { return false }
        position += 1
        return true
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): position += 1
            default: return
            }
        }
    }
}

/// JSON string literals as `JSONEncoder` writes them (RFC 8259): `"` and `\` escaped, control
/// characters in their short forms where JSON has them and as `\u00XX` otherwise; `/` and
/// non-ASCII as they are.
package enum PlainJSONString {
    /// Hands `text` as a string literal to `emit`, a piece at a time: the quotes, each run that
    /// needs no escape (a base64 value is one run), and each escape.
    package static func write(_ text: String, _ emit: (UnsafeRawBufferPointer) -> Void) {
        emit(UnsafeRawBufferPointer(start: quote.utf8Start, count: 1))
        var text = text
        text.withUTF8 { bytes in
            var plainStart = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                emit(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[plainStart..<index]))
                plainStart = index + 1
                escape(byte, emit)
            }
            emit(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[plainStart...]))
        }
        emit(UnsafeRawBufferPointer(start: quote.utf8Start, count: 1))
    }

    private static let quote: StaticString = "\""

    private static func escape(_ byte: UInt8, _ emit: (UnsafeRawBufferPointer) -> Void) {
        let short: StaticString? =
            switch byte {
            case UInt8(ascii: "\""): #"\""#
            case UInt8(ascii: "\\"): #"\\"#
            case 0x08: #"\b"#
            case 0x0C: #"\f"#
            case 0x0A: #"\n"#
            case 0x0D: #"\r"#
            case 0x09: #"\t"#
            default: nil
            }
        if let short {
            emit(UnsafeRawBufferPointer(start: short.utf8Start, count: short.utf8CodeUnitCount))
            return
        }
        let digits: StaticString = "0123456789abcdef"
        let unicode: [UInt8] = [
            UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
            digits.utf8Start[Int(byte >> 4)], digits.utf8Start[Int(byte & 0x0F)],
        ]
        unicode.withUnsafeBytes(emit)
    }
}
