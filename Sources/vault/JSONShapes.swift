import ArgumentParser
import EnvelopeCrypto
import Foundation

// The JSON the blob commands print, and read back: `vault encrypt --json` and `vault rekey --json`
// print {"blob", "layout"}, which `vault decrypt` and `vault rekey` read as they read a bare blob;
// the keys commands print {"id", "data_key", "encrypted_keys"}, which `vault keys decrypt` and
// `vault keys rekey` read as they read bare encrypted_keys.

/// `{"blob": base64, "layout": "A" | "B" | "A'"}`.
struct BlobJSON: Encodable {
    var blob: String
    var layout: String

    init(_ blob: EnvelopeBlob) {
        self.blob = blob.base64EncodedString()
        layout = blob.layout.description
    }

    /// A blob the library returned as base64 (parsed again only to name its layout).
    init(base64 text: String) throws {
        blob = text
        layout = try EnvelopeBlob(base64Encoded: text).layout.description
    }
}

/// `{"plaintext": text}` for UTF-8 text, else (or when asked) `{"plaintext_base64": base64}`.
struct PlaintextJSON: Encodable {
    var plaintext: String?
    var plaintextBase64: String?

    enum CodingKeys: String, CodingKey {
        case plaintext
        case plaintextBase64 = "plaintext_base64"
    }

    init(_ bytes: [UInt8], base64: Bool) {
        if !base64, let text = String(validating: bytes, as: UTF8.self) {
            plaintext = text
        } else {
            plaintextBase64 = Base64.encode(bytes)
        }
    }
}

/// The layouts `vault encrypt` writes: legacy A' is read-only, so `--help` does not offer it.
enum WritableLayout: String, ExpressibleByArgument, CaseIterable {
    case a, b

    init?(argument: String) { self.init(rawValue: argument.lowercased()) }

    var blobLayout: BlobLayout { self == .a ? .a : .b }
}

/// Input that is the JSON another command printed: the text of `field`, so a command reads what
/// another's `--json` wrote. Any other input is returned as it is.
/// - Throws: exit code 4 (input that is not a blob or keys blob) for a JSON object without a
///   string `field`; nothing of the input is printed.
func unwrappingJSON(_ text: String, field: String) throws -> String {
    guard text.hasPrefix("{") else { return text }
    guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
        let value = object[field] as? String
    else {
        FileHandle.standardError.write(Data("vault: the input is JSON without a \"\(field)\" string\n".utf8))
        throw ExitCode(4)
    }
    return value
}
