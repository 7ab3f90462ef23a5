import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The log handler of `vault serve`: the same lines as swift-log's
/// `StreamLogHandler.standardError`, made for a line per request. That handler formats its
/// metadata whenever it is set (Hummingbird sets a request id on every request) and the local
/// time on every line, then writes through a locked, flushed `FILE`; this one formats metadata
/// only when a line is written, the time once a second, and writes each line with one `write(2)`.
public struct ServerLogHandler: LogHandler {
    /// The lowest level written.
    public var logLevel: Logger.Level = .info
    /// Metadata for every line of this handler; formatted only when a line is written.
    public var metadata: Logger.Metadata = [:]
    /// Where metadata for every line comes from, besides ``metadata``.
    public var metadataProvider: Logger.MetadataProvider?
    /// Text lines (the default) or one JSON object per line.
    public var format: LogFormat = .text

    private let label: String
    private let output: @Sendable (String) -> Void

    /// A handler writing to standard error.
    public static func standardError(label: String, format: LogFormat = .text) -> ServerLogHandler {
        var handler = ServerLogHandler(label: label, metadataProvider: LoggingSystem.metadataProvider) { line in
            var line = line
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
        handler.format = format
        return handler
    }

    /// A handler giving each line (with its newline) to `output`.
    public init(
        label: String,
        metadataProvider: Logger.MetadataProvider? = nil,
        output: @escaping @Sendable (String) -> Void
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.output = output
    }

    /// One item of ``metadata``.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes `TIMESTAMP LEVEL LABEL: KEY=VALUE... [SOURCE] MESSAGE`, metadata sorted by key,
    /// exactly as `StreamLogHandler` does.
    public func log(event: LogEvent) {
        var effective = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            effective.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            effective.merge(explicit) { _, explicit in explicit }
        }
        if let error = event.error {
            effective["error.message"] = "\(error)"
            effective["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        if format == .json {
            output(JSONLogLine.make(event: event, label: label, metadata: effective))
            return
        }
        var line = LocalTimestamp.current()
        line += " "
        line += event.level.description
        if !label.isEmpty { line += " " }
        line += label
        line += ":"
        if !effective.isEmpty {
            for (key, value) in effective.sorted(by: { $0.key < $1.key }) {
                line += " "
                line += key
                line += "="
                line += value.description
            }
        }
        line += " ["
        line += event.source
        line += "] "
        line += event.message.description
        line += "\n"
        output(line)
    }
}

/// `2026-11-26T19:31:03+0000`, the local time as `StreamLogHandler` writes it, formatted at
/// most once a second.
enum LocalTimestamp {
    private static let cache = Mutex<(second: time_t, text: String)>((-1, ""))

    static func current() -> String {
        let now = time(nil)
        if let text = cache.withLock({ $0.second == now ? $0.text : nil }) { return text }
        let text = format(now)
        cache.withLock { $0 = (now, text) }
        return text
    }

    static func format(_ seconds: time_t) -> String {
        var seconds = seconds
        var local = tm()
        guard localtime_r(&seconds, &local) != nil else { return "<unknown>" }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let count = strftime(buffer.baseAddress!, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: count), as: UTF8.self)
        }
    }
}
