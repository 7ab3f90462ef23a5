import ArgumentParser
import Foundation
import LocalVault

/// Where the store is: the SQLite store of a data folder (the default), or a PostgreSQL database
/// shared by several `vault serve` instances. A database password is never a flag: it comes from
/// the URL in `VAULT_DATABASE_URL`, or from `--database-password-file`.
struct DatabaseOptions: ParsableArguments {
    /// The variable holding the database URL (it may hold a password).
    static let environmentVariable = "VAULT_DATABASE_URL"

    @Option(
        name: .customLong("database"),
        help: ArgumentHelp(
            "A PostgreSQL URL, postgres://USER@HOST:PORT/DB (default: $VAULT_DATABASE_URL, else the SQLite store).",
            valueName: "url"
        )
    )
    var database: String?

    @Option(
        name: .customLong("database-password-file"),
        help: "A file holding the database password (its first line).",
        completion: .file()
    )
    var passwordFile: String?

    func validate() throws {
        if let database, let components = URLComponents(string: database), components.password != nil {
            throw ValidationError(
                "--database must not hold a password: use \(Self.environmentVariable) or --database-password-file"
            )
        }
        if passwordFile != nil, resolvedURLWithoutPassword == nil {
            throw ValidationError("--database-password-file needs --database or \(Self.environmentVariable)")
        }
    }

    private var resolvedURLWithoutPassword: String? {
        if let database { return database }
        let value = ProcessInfo.processInfo.environment[Self.environmentVariable] ?? ""
        return value.isEmpty ? nil : value
    }

    /// The database URL without its password, for logs and messages; nil for the SQLite store.
    var redactedDescription: String? {
        guard let url = resolvedURLWithoutPassword else { return nil }
        guard var components = URLComponents(string: url) else { return "(a database URL that does not parse)" }
        components.password = nil
        components.query = nil
        return components.string
    }

    /// The database URL with its password, or nil for the SQLite store of a data folder.
    /// - Throws: `ValidationError` when the URL does not parse or the password file cannot be read.
    /// - Parameter warn: told when the password file is readable by group or others (the
    ///   password opens the whole store's database); by default a line on standard error.
    func url(
        warn: (String) -> Void = { FileHandle.standardError.write(Data("vault: warning: \($0)\n".utf8)) }
    ) throws -> String? {
        guard let url = resolvedURLWithoutPassword else { return nil }
        guard var components = URLComponents(string: url),
            ["postgres", "postgresql"].contains(components.scheme?.lowercased() ?? ""),
            components.host?.isEmpty == false
        else {
            throw ValidationError("the database URL must be postgres://USER@HOST:PORT/DATABASE")
        }
        guard let passwordFile else { return url }
        let password: String
        do {
            let content = try String(contentsOfFile: passwordFile, encoding: .utf8)
            password = String(content.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        } catch {
            // The reason (missing, a folder, no permission), never the content.
            let reason = (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
            throw ValidationError("cannot read the database password file \(passwordFile): \(reason)")
        }
        guard !password.isEmpty else { throw ValidationError("the database password file \(passwordFile) is empty") }
        if KeyFilePermissions.isShared(path: passwordFile) {
            warn(
                "the database password file \(passwordFile) is readable by group or others: make it private (chmod 600)"
            )
        }
        components.password = password
        guard let withPassword = components.string else {
            throw ValidationError("the database URL must be postgres://USER@HOST:PORT/DATABASE")
        }
        return withPassword
    }
}
