import Foundation

/// The JSON coders for Vault bodies: ISO 8601 dates with milliseconds in UTC, as WorkOS sends them;
/// decoding also accepts dates without fractional seconds.
public enum VaultJSON {
    /// One encoder for Vault bodies, shared: encoding is thread-safe, and making a coder per
    /// request showed up in the server's profile. Do not change its settings; take ``encoder()``.
    public static let sharedEncoder = encoder()
    /// One decoder for Vault bodies, shared like ``sharedEncoder``.
    public static let sharedDecoder = decoder()

    /// A new encoder for Vault bodies.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatISO8601(date))
        }
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    /// A new decoder for Vault bodies.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseISO8601(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date")
            }
            return date
        }
        return decoder
    }

    /// Formats `date` as `2026-11-26T15:30:00.123Z`.
    public static func formatISO8601(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    /// Parses an ISO 8601 date with or without fractional seconds.
    public static func parseISO8601(_ text: String) -> Date? {
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        return (try? withFraction.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}
