import ArgumentParser
import Foundation
import VaultAPI
import WorkOSVault

/// `vault kv`: Vault objects.
struct KV: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv",
        abstract: "Store, read and manage Vault objects (named, versioned, encrypted values).",
        subcommands: [Create.self, Get.self, Update.self, Delete.self, List.self, Describe.self, Versions.self]
    )

    /// The value of create and update: from a file or standard input, never from the command line.
    struct ValueOptions: ParsableArguments {
        @Option(
            name: .customLong("value-file"),
            help: "Read the value from this file (default: standard input; a terminal is asked, without echo)."
        )
        var valueFile: String?

        func read() throws -> String {
            if valueFile == nil, let typed = try SecretPrompt.readLineFromTerminal(prompt: "value: ") {
                return typed
            }
            let bytes = try readBytes(from: valueFile)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw ValidationError("the value must be UTF-8 text")
            }
            return text
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an object; the value comes from standard input or --value-file.",
            discussion: """
                Example:
                  printf '%s' "$STRIPE_KEY" | vault kv create stripe-key --context organization_id=org_123
                """
        )
        @OptionGroup var client: ClientOptions
        @OptionGroup var context: ContextOptions
        @OptionGroup var value: ValueOptions
        @Argument(help: "The object's name (unique in the environment).") var name: String

        func run() async throws {
            let vault = try client.vault()
            let text = try value.read()
            let keyContext = try context.keyContext()
            let metadata = try await reportingErrors {
                try await vault.createObject(name: name, value: text, context: keyContext)
            }
            if client.json {
                try printJSON(metadata)
            } else {
                printLine("created \(metadata.id) version \(metadata.versionID ?? "-")")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an object's value (by id, or by --name).",
            discussion: """
                With --context, the object is found only if its key context is exactly the given \
                pairs (not found otherwise). With --version N, print the value as it was at version N. \
                The value is followed by a newline unless --raw is given: use --raw to write it to a file.

                Examples:
                  vault kv get 8f0c...e1
                  vault kv get --name stripe-key --context organization_id=org_123 --json
                  vault kv get 8f0c...e1 --version 2
                  vault kv get --name tls-key --raw > tls.key
                """
        )
        @OptionGroup var client: ClientOptions
        @OptionGroup var context: ContextOptions
        @Argument(help: "The object's id.") var id: String?
        @Option(help: "Read by name instead of id.") var name: String?
        @Option(help: "Read this version number (1 is the first) instead of the current one.") var version: Int?
        @Flag(help: "Print the value exactly, without the newline added by default.") var raw = false

        func validate() throws {
            if id == nil, name == nil { throw ValidationError("give the object's id or --name") }
            if id != nil, name != nil { throw ValidationError("give an id or --name, not both") }
            if raw, client.json { throw ValidationError("--raw is for the value alone, not --json") }
            if version != nil, id == nil { throw ValidationError("--version needs an id") }
            if let version, version < 1 { throw ValidationError("--version must be 1 or more") }
        }

        func run() async throws {
            let vault = try client.vault(createsStore: false)
            let keyContext = try context.optionalKeyContext()
            let object = try await reportingErrors {
                if let name { return try await vault.readObject(named: name, context: keyContext) }
                if let version { return try await vault.readObject(id: id!, version: version, context: keyContext) }
                return try await vault.readObject(id: id!, context: keyContext)
            }
            if client.json {
                try printJSON(object)
            } else if raw {
                FileHandle.standardOutput.write(Data(object.value.utf8))
            } else {
                printLine(object.value)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a new version of an object's value (from standard input or --value-file).",
            discussion: """
                With --version-check, the update happens only if that is still the current version \
                (exit status 2 otherwise).

                Example:
                  printf '%s' "$NEW_KEY" | vault kv update 8f0c...e1 --version-check 41d2...07
                """
        )
        @OptionGroup var client: ClientOptions
        @OptionGroup var context: ContextOptions
        @OptionGroup var value: ValueOptions
        @Argument(help: "The object's id.") var id: String
        @Option(name: .customLong("version-check"), help: "The version id you expect to replace.")
        var versionCheck: String?
        @Option(name: .customLong("expected-version"), help: "The version number you expect to replace.")
        var expectedVersion: Int?

        func run() async throws {
            let vault = try client.vault(createsStore: false)
            let text = try value.read()
            let keyContext = try context.optionalKeyContext()
            let updated = try await reportingErrors {
                try await vault.updateObject(
                    id: id,
                    value: text,
                    versionCheck: versionCheck,
                    expectedVersion: expectedVersion,
                    context: keyContext
                )
            }
            if client.json {
                try printJSON(updated)
            } else {
                printLine(
                    "updated \(updated.id) version \(updated.metadata.version.map(String.init) ?? "-") "
                        + "(\(updated.metadata.versionID ?? "-"))"
                )
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete an object.",
            discussion: "Example:\n  vault kv delete 8f0c...e1 --version-check 41d2...07"
        )
        @OptionGroup var client: ClientOptions
        @OptionGroup var context: ContextOptions
        @Argument(help: "The object's id.") var id: String
        @Option(name: .customLong("version-check"), help: "Delete only if this is the current version.")
        var versionCheck: String?

        func run() async throws {
            let vault = try client.vault(createsStore: false)
            let keyContext = try context.optionalKeyContext()
            let deleted = try await reportingErrors {
                try await vault.deleteObject(id: id, versionCheck: versionCheck, context: keyContext)
            }
            if client.json { try printJSON(deleted) } else { printLine("deleted \(id)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List objects (every page, or one with --limit, --after or --before).",
            discussion: """
                --json prints {"data": [objects], "list_metadata": {"before", "after"}}, as the \
                API answers. For one page, pass the cursor of list_metadata to --after (the next \
                page) or --before (the previous one); the text output then ends with those cursors \
                on standard error. Every page together has null cursors.

                Examples:
                  vault kv list
                  vault kv list --search stripe --order asc --json
                  vault kv list --limit 10 --json
                  vault kv list --limit 10 --after 8f0c...e1
                """
        )
        @OptionGroup var client: ClientOptions
        @OptionGroup var context: ContextOptions
        @Option(help: "Only names containing this text.") var search: String?
        @Option(help: "asc or desc (default).") var order: String = "desc"
        @Option(help: "Return one page of at most this many (1-100, default 100 with a cursor).") var limit: Int?
        @Option(help: "One page: the objects after this object id (list_metadata.after).") var after: String?
        @Option(help: "One page: the objects before this object id (list_metadata.before).") var before: String?

        func validate() throws {
            guard ListOrder(rawValue: order) != nil else { throw ValidationError("--order must be asc or desc") }
            if let limit, !(1...ListObjectsQuery.maxLimit).contains(limit) {
                throw ValidationError("--limit must be 1 to 100")
            }
            if after != nil, before != nil { throw ValidationError("give --after or --before, not both") }
        }

        func run() async throws {
            let vault = try client.vault(createsStore: false)
            let query = ListObjectsQuery(
                limit: limit ?? ListObjectsQuery.maxLimit,
                before: before,
                after: after,
                order: ListOrder(rawValue: order)!,
                search: search,
                keyContext: try context.optionalKeyContext()
            )
            let onePage = limit != nil || after != nil || before != nil
            let page: ListResponse<ObjectSummary> = try await reportingErrors {
                if onePage { return try await vault.listObjects(query) }
                var all: [ObjectSummary] = []
                for try await summary in vault.allObjects(query) { all.append(summary) }
                return ListResponse(data: all, listMetadata: ListMetadata(before: nil, after: nil))
            }
            if client.json {
                try printJSON(page)
                return
            }
            for summary in page.data {
                printLine("\(summary.id)  \(VaultJSON.formatISO8601(summary.updatedAt))  \(summary.name)")
            }
            // The cursors go to standard error, so the listing on standard output stays one object a line.
            let cursors = [("--before", page.listMetadata.before), ("--after", page.listMetadata.after)]
                .compactMap { flag, cursor in cursor.map { "\(flag) \($0)" } }
            if !cursors.isEmpty {
                FileHandle.standardError.write(Data("more: \(cursors.joined(separator: " or "))\n".utf8))
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an object's metadata without decrypting its value.",
            discussion: "Example:\n  vault kv describe 8f0c...e1 --json"
        )
        @OptionGroup var client: ClientOptions
        @OptionGroup var context: ContextOptions
        @Argument(help: "The object's id.") var id: String

        func run() async throws {
            let vault = try client.vault(createsStore: false)
            let keyContext = try context.optionalKeyContext()
            let described = try await reportingErrors { try await vault.describeObject(id: id, context: keyContext) }
            if client.json {
                try printJSON(described)
            } else {
                let metadata = described.metadata
                printLine("id: \(described.id)\nname: \(described.name)\nversion: \(metadata.versionID ?? "-")")
                if let number = metadata.version { printLine("version number: \(number)") }
                printLine("updated: \(VaultJSON.formatISO8601(metadata.updatedAt)) by \(metadata.updatedBy.name)")
                printLine(
                    "context: " + metadata.context.sortedPairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                )
            }
        }
    }

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List an object's versions, newest first.",
            discussion: "Example:\n  vault kv versions 8f0c...e1"
        )
        @OptionGroup var client: ClientOptions
        @OptionGroup var context: ContextOptions
        @Argument(help: "The object's id.") var id: String

        func run() async throws {
            let vault = try client.vault(createsStore: false)
            let keyContext = try context.optionalKeyContext()
            let versions = try await reportingErrors { try await vault.listVersions(id: id, context: keyContext) }
            if client.json {
                try printJSON(versions)
            } else {
                for version in versions {
                    let marker = version.currentVersion ? "*" : " "
                    let number = version.version.map { "\($0)  " } ?? ""
                    printLine(
                        "\(marker) \(number)\(version.id)  \(VaultJSON.formatISO8601(version.createdAt))  \(version.size) bytes"
                    )
                }
            }
        }
    }
}

extension ContextOptions {
    /// The `--context` pairs of a call that finds an object: none given means no context check.
    func optionalKeyContext() throws -> KeyContext? {
        pairs.isEmpty ? nil : try keyContext()
    }
}
