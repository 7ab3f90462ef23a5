import Foundation
import Testing

/// Test vectors: the project's own `Fixtures/` and the read-only `../shared/fixtures/`.
///
/// `Fixtures/` is part of the repository, so a missing file there is always a failure. Files in
/// `../shared/fixtures/` may be absent on a developer machine, where their tests are skipped; with
/// `CI=true` those tests run regardless and fail when a file is missing.
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let workOSIssuedKeys = "workos/workos-issued-keys.json"
    static let wycheproof = "wycheproof/aes_gcm_test.json"

    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    static func project(_ name: String) -> URL {
        packageRoot.appendingPathComponent("Fixtures").appendingPathComponent(name)
    }

    static func shared(_ path: String) -> URL {
        packageRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures").appendingPathComponent(path)
    }

    /// Whether a test reading this shared file should run: always in CI, else when the file exists.
    static func sharedAvailable(_ path: String) -> Bool {
        isCI || FileManager.default.fileExists(atPath: shared(path).path)
    }

    static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data = try Data(contentsOf: url)
        return try JSONDecoder().decode(type, from: data)
    }
}

extension Array where Element == UInt8 {
    init(hex: String) {
        let digits = Array(hex.utf8)
        precondition(digits.count % 2 == 0, "odd-length hex")
        self = stride(from: 0, to: digits.count, by: 2).map { index in
            UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16)!
        }
    }

    init(base64 text: String) {
        self.init(Data(base64Encoded: text)!)
    }
}
