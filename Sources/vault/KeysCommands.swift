import ArgumentParser
import EnvelopeCrypto
import Foundation
import WorkOSVault

/// `vault keys`: the data-key API.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, unwrap and rekey data keys directly (the Vault key API).",
        subcommands: [DataKeyCommand.self, DecryptKeys.self, RekeyKeys.self]
    )

    /// The printed form of a data key: it includes the secret key, which is the point of the command.
    struct Printed: Encodable {
        var id: String
        var data_key: String
        var encrypted_keys: String
    }

    /// Prints `key` on standard output, or to `--out` when `files` has one.
    static func output(_ key: ResolvedDataKey, json: Bool, to files: InputOutputOptions? = nil) throws {
        let printed = Printed(
            id: key.id,
            data_key: key.key.base64EncodedString(),
            encrypted_keys: Base64.encode(key.encryptedKeys)
        )
        let text =
            json
            ? try jsonLine(printed)
            : "id: \(printed.id)\ndata_key: \(printed.data_key)\nencrypted_keys: \(printed.encrypted_keys)"
        if let files { try files.write(line: text) } else { printLine(text) }
    }

    struct DataKeyCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "data-key",
            abstract: "Create a data key for a context; prints the key and its wrapped copies.",
            discussion: "Example:\n  vault keys data-key --context organization_id=org_123 --json"
        )
        @OptionGroup var client: ClientOptions
        @OptionGroup var context: ContextOptions

        func run() async throws {
            let vault = try client.vault()
            let keyContext = try context.keyContext()
            try Keys.output(
                try await reportingErrors { try await vault.createDataKey(context: keyContext) },
                json: client.json
            )
        }
    }

    struct DecryptKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "decrypt",
            abstract: "Unwrap a data key from its encrypted_keys (base64, from standard input or --in).",
            discussion: """
                The input is the base64 encrypted_keys, or the JSON `vault keys data-key --json` prints.

                Examples:
                  echo "$ENCRYPTED_KEYS" | vault keys decrypt --json
                  vault keys data-key --context organization_id=org_123 --json | vault keys decrypt
                """
        )
        @OptionGroup var client: ClientOptions
        @OptionGroup var files: InputOutputOptions

        func run() async throws {
            let vault = try client.vault(createsStore: false)
            let keys = try files.readText(jsonField: "encrypted_keys")
            try Keys.output(
                try await reportingErrors(decrypting: true) { try await vault.decryptDataKey(encryptedKeys: keys) },
                json: client.json,
                to: files
            )
        }
    }

    struct RekeyKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rekey",
            abstract: "Re-wrap a data key (encrypted_keys on standard input or --in) under another context.",
            discussion: """
                The input is the base64 encrypted_keys, or the JSON `vault keys data-key --json` prints.

                Example:
                  echo "$ENCRYPTED_KEYS" | vault keys rekey --context organization_id=org_456
                """
        )
        @OptionGroup var client: ClientOptions
        @OptionGroup var context: ContextOptions
        @OptionGroup var files: InputOutputOptions

        func run() async throws {
            let vault = try client.vault(createsStore: false)
            let keys = try files.readText(jsonField: "encrypted_keys")
            let keyContext = try context.keyContext()
            try Keys.output(
                try await reportingErrors(decrypting: true) {
                    try await vault.rekeyDataKey(encryptedKeys: keys, to: keyContext)
                },
                json: client.json,
                to: files
            )
        }
    }
}
