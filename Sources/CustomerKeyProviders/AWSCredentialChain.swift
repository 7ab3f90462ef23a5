import Foundation
import LocalVault

/// The AWS credential chain that applies off AWS: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
/// (and `AWS_SESSION_TOKEN`), then the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`,
/// else `~/.aws/credentials`) and its profile (`AWS_PROFILE`, else `default`).
public enum AWSCredentialChain {
    /// The first credentials the chain finds.
    /// - Throws: ``LocalVaultError`` saying where it looked; never a key or secret.
    public static func resolve(environment: [String: String]) throws -> AWSCredentials {
        if let id = nonEmpty(environment["AWS_ACCESS_KEY_ID"]),
            let secret = nonEmpty(environment["AWS_SECRET_ACCESS_KEY"])
        {
            return AWSCredentials(
                accessKeyID: id,
                secretAccessKey: secret,
                sessionToken: nonEmpty(environment["AWS_SESSION_TOKEN"])
            )
        }
        let path =
            nonEmpty(environment["AWS_SHARED_CREDENTIALS_FILE"])
            ?? ((nonEmpty(environment["HOME"]) ?? NSHomeDirectory()) + "/.aws/credentials")
        let profile = nonEmpty(environment["AWS_PROFILE"]) ?? "default"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LocalVaultError(
                .internalError,
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add profile '\(profile)' to \(path)"
            )
        }
        let values = profileValues(String(decoding: data, as: UTF8.self), profile: profile)
        guard let id = nonEmpty(values["aws_access_key_id"]), let secret = nonEmpty(values["aws_secret_access_key"])
        else {
            throw LocalVaultError(
                .internalError,
                "no AWS credentials: profile '\(profile)' in \(path) needs aws_access_key_id and aws_secret_access_key"
            )
        }
        return AWSCredentials(
            accessKeyID: id,
            secretAccessKey: secret,
            sessionToken: nonEmpty(values["aws_session_token"])
        )
    }

    /// The `name = value` lines of `[profile]` in an INI file (`#` and `;` start comments).
    static func profileValues(_ text: String, profile: String) -> [String: String] {
        var values: [String: String] = [:]
        var inProfile = false
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                inProfile = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces) == profile
                continue
            }
            guard inProfile, let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            values[name] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return values
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}
