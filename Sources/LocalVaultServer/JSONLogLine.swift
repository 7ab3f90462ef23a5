import Logging

/// How `vault serve` writes its log lines.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `TIMESTAMP LEVEL LABEL: KEY=VALUE... [SOURCE] MESSAGE`, as swift-log's `StreamLogHandler`.
    case text
    /// One JSON object per line with the same fields: `timestamp`, `level`, `label`,
    /// `metadata` (an object), `source` and `message`.
    case json
}

/// A log line as one JSON object, written by hand (no encoder per line): keys in a fixed
/// order, metadata keys sorted, nested metadata as JSON arrays and objects.
enum JSONLogLine {
    static func make(event: LogEvent, label: String, metadata: Logger.Metadata) -> String {
        var line = "{\"timestamp\":"
        appendString(LocalTimestamp.current(), to: &line)
        line += ",\"level\":"
        appendString(event.level.rawValue, to: &line)
        line += ",\"label\":"
        appendString(label, to: &line)
        line += ",\"metadata\":"
        appendObject(metadata, to: &line)
        line += ",\"source\":"
        appendString(event.source, to: &line)
        line += ",\"message\":"
        appendString(event.message.description, to: &line)
        line += "}\n"
        return line
    }

    private static func appendObject(_ metadata: Logger.Metadata, to line: inout String) {
        line += "{"
        for (index, (key, value)) in metadata.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { line += "," }
            appendString(key, to: &line)
            line += ":"
            appendValue(value, to: &line)
        }
        line += "}"
    }

    private static func appendValue(_ value: Logger.Metadata.Value, to line: inout String) {
        switch value {
        case .string(let text): appendString(text, to: &line)
        case .stringConvertible(let convertible): appendString(convertible.description, to: &line)
        case .dictionary(let dictionary): appendObject(dictionary, to: &line)
        case .array(let values):
            line += "["
            for (index, element) in values.enumerated() {
                if index > 0 { line += "," }
                appendValue(element, to: &line)
            }
            line += "]"
        }
    }

    /// `text` as a JSON string: quotes, backslashes and control characters escaped (RFC 8259),
    /// everything else as UTF-8, so that a line never breaks in two.
    static func appendString(_ text: String, to line: inout String) {
        line += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }
}
