import ArgumentParser
import EnvelopeCrypto
import Foundation
import WorkOSVault

/// `vault encrypt`
struct Encrypt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encrypt data client-side under a key context; prints the base64 blob.",
        discussion: """
            One data key per call, from the WorkOS API (WORKOS_API_KEY set) or the embedded store. \
            The blob is layout A by default, which the official Python, Node, Ruby, Kotlin, PHP and \
            .NET SDKs decrypt; --layout b writes the Go >= 7 / workos-ios layout.

            Examples:
              echo -n '4242 4242 4242 4242' | vault encrypt --context organization_id=org_123
              vault encrypt --context organization_id=org_123 --aad user_456 --in card.txt --out card.blob
              vault encrypt --context organization_id=org_123 --binary --in backup.tar --out backup.tar.blob

            Files of any size are streamed 1 MiB at a time (memory stays flat), with a progress \
            bar on a terminal for inputs over 4 MiB (--quiet: none).
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var context: ContextOptions
    @OptionGroup var files: InputOutputOptions

    @Option(help: "Associated data: authenticated, not encrypted; needed again to decrypt.")
    var aad: String?

    @Option(help: "The blob layout to write: a (default) or b (legacy A' is read-only).")
    var layout: WritableLayout = .a

    @Flag(help: "Write the blob as raw bytes instead of base64 text (a quarter smaller; vault decrypt reads both).")
    var binary = false

    @Flag(help: "No progress bar on standard error.")
    var quiet = false

    func validate() throws { _ = try context.keyContext() }

    func run() async throws {
        let vault = try client.vault()
        let keyContext = try context.keyContext()
        // A person at a terminal is asked, without echo, as `vault kv create` asks for a value.
        let typed = files.inputPath == nil ? try SecretPrompt.readLineFromTerminal(prompt: "plaintext: ") : nil
        guard client.json || typed != nil else {
            return try await StreamedCrypto.encrypt(
                vault: vault,
                files: files,
                context: keyContext,
                associatedData: Array((aad ?? "").utf8),
                layout: layout.blobLayout,
                binary: binary,
                quiet: quiet
            )
        }
        let plaintext = try typed.map { Array($0.utf8) } ?? files.readInput()
        let blob = try await reportingErrors {
            try await vault.encrypt(
                bytes: plaintext,
                context: keyContext,
                associatedData: aad.map { Array($0.utf8) },
                layout: layout.blobLayout
            )
        }
        if client.json {
            try files.write(json: BlobJSON(blob))
        } else if binary {
            try files.write(blob.bytes)
        } else {
            try files.write(line: blob.base64EncodedString())
        }
    }
}

/// `vault decrypt`
struct Decrypt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decrypt a base64 blob made by this tool or any official WorkOS SDK.",
        discussion: """
            Reads layouts A, B and the legacy A' (32-byte IV), detecting which; --layout forces one. \
            The input is the base64 blob, or the JSON `vault encrypt --json` prints. --json prints \
            {"plaintext": text} for UTF-8 text, else {"plaintext_base64": ...}; --base64 always \
            prints the plaintext in base64.

            Examples:
              vault decrypt < card.blob
              vault decrypt --aad user_456 --in card.blob --out card.txt
              vault decrypt --in backup.tar.blob --out backup.tar

            Base64 or raw (--binary) blobs, streamed: plaintext reaches --out (renamed into place) \
            or standard output only after the whole blob is authenticated.
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var files: InputOutputOptions

    @Option(help: "The associated data given when encrypting.")
    var aad: String?

    @Option(help: "Force a layout: a, b or legacy-a (default: detect).")
    var layout: BlobLayout?

    @Flag(help: "Print the plaintext in base64 (with --json: as plaintext_base64), for binary data.")
    var base64 = false

    @Flag(help: "No progress bar on standard error.")
    var quiet = false

    func run() async throws {
        let vault = try client.vault(createsStore: false)
        // The plaintext itself is streamed; its JSON and base64 forms are made in memory.
        guard client.json || base64 else {
            return try await StreamedCrypto.decrypt(
                vault: vault,
                files: files,
                associatedData: Array((aad ?? "").utf8),
                layout: layout,
                quiet: quiet
            )
        }
        let blob = try files.readBase64()
        let plaintext = try await reportingErrors(decrypting: true) {
            try await vault.decrypt(bytes: blob, associatedData: aad.map { Array($0.utf8) }, layout: layout)
        }
        if client.json {
            try files.write(json: PlaintextJSON(plaintext, base64: base64))
        } else if base64 {
            try files.write(line: Base64.encode(plaintext))
        } else {
            try files.write(plaintext)
        }
    }
}

/// `vault rekey`
struct Rekey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a blob to another key context without decrypting it.",
        discussion: """
            The blob's data key is re-wrapped under the new context's KEKs; the ciphertext is kept.

            Example:
              vault rekey --context organization_id=org_456 < card.blob > card-moved.blob
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var context: ContextOptions
    @OptionGroup var files: InputOutputOptions

    func validate() throws { _ = try context.keyContext() }

    func run() async throws {
        let vault = try client.vault(createsStore: false)
        let blob = try files.readText(jsonField: "blob")
        let keyContext = try context.keyContext()
        // The blob's wrapped keys are unwrapped to be re-wrapped: refused ones are a decryption failure.
        let moved = try await reportingErrors(decrypting: true) { try await vault.rekey(blob, to: keyContext) }
        if client.json {
            try files.write(json: try BlobJSON(base64: moved))
        } else {
            try files.write(line: moved)
        }
    }
}
