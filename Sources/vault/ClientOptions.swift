import ArgumentParser
import EnvelopeCrypto
import Foundation
import VaultAPI
import WorkOSVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Options every client command shares.
struct ClientOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of human-readable text.")
    var json = false

    @Option(
        name: .customLong("ca-file"),
        help: ArgumentHelp(
            "A PEM file of the certificate authorities that sign the server's certificate (default: $CURL_CA_BUNDLE, else the system's).",
            valueName: "file"
        ),
        completion: .file()
    )
    var caFile: String?

    @Flag(help: "Log each request, its status, duration and retries on standard error (never keys or values).")
    var verbose = false

    /// The client: the WorkOS API when WORKOS_API_KEY is set, else the embedded store.
    /// - Parameter createsStore: false for a command that only works on what a store holds (it
    ///   reads, or changes an object): a missing embedded store is then refused (exit 5) instead
    ///   of created, so a mistyped `VAULT_HOME` is not taken for a new, empty store.
    func vault(createsStore: Bool = true) throws -> Vault {
        do {
            var configuration = try VaultConfiguration.fromEnvironment()
            try applyCAFile(to: &configuration)
            if !createsStore, case .embedded(let directory) = configuration.backend {
                try EmbeddedStore.requireExisting(in: directory)
            }
            let logger = verbose ? VerboseLog.logger() : nil
            logger?.debug("vault client", metadata: VerboseLog.metadata(of: configuration.backend))
            return try Vault(configuration: configuration, logger: logger)
        } catch let error as VaultError {
            throw failure(reporting: error)
        }
    }

    /// Makes the client trust `--ca-file`, which only a server (WORKOS_API_KEY) can use.
    /// - Throws: ``VaultError/Code-swift.struct/configuration`` for the embedded store.
    func applyCAFile(to configuration: inout VaultConfiguration) throws(VaultError) {
        guard let caFile else { return }
        guard case .remote(var remote) = configuration.backend else {
            throw VaultError(.configuration, "--ca-file is for a server: set WORKOS_API_KEY and WORKOS_BASE_URL")
        }
        remote.caFile = caFile
        configuration.backend = .remote(remote)
    }
}

/// `--context key=value`, repeatable.
struct ContextOptions: ParsableArguments {
    @Option(name: .customLong("context"), help: "A key context pair, key=value (repeatable).")
    var pairs: [String] = []

    /// Malformed or repeated pairs are usage errors, found while parsing (before any store opens).
    func validate() throws { _ = try parsedPairs() }

    func keyContext() throws -> KeyContext {
        do {
            return try KeyContext.validated(try parsedPairs())
        } catch let error as KeyContextError {
            throw ValidationError(error.description)
        }
    }

    private func parsedPairs() throws -> [String: String] {
        var context: [String: String] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "=") else {
                throw ValidationError("--context takes key=value, got a pair without '='")
            }
            let key = String(pair[..<equals])
            // The last of two values would win silently: the caller meant one of them.
            guard context.updateValue(String(pair[pair.index(after: equals)...]), forKey: key) == nil else {
                throw ValidationError("--context \(key) is given more than once")
            }
        }
        return context
    }
}

/// `--in FILE` / `--out FILE`, standard input and output by default.
struct InputOutputOptions: ParsableArguments {
    @Option(name: .customLong("in"), help: "Read from this file instead of standard input.", completion: .file())
    var inputPath: String?

    @Option(
        name: .customLong("out"),
        help: """
            Write here instead of standard output: a file is replaced by a new 0600 file; a device, \
            FIFO or /dev/stdout is written through; a symbolic link to a file is refused.
            """,
        completion: .file()
    )
    var outputPath: String?

    func readInput() throws -> [UInt8] { try readBytes(from: inputPath) }

    /// Writes `value` as one line of JSON, to `--out` when given (see ``printJSON(_:)``).
    func write(json value: some Encodable) throws {
        try write(line: try jsonLine(value))
    }

    /// The input as text, surrounding ASCII whitespace (a trailing newline) removed.
    func readText() throws -> String {
        String(decoding: trimmingASCIIWhitespace(try readInput()), as: UTF8.self)
    }

    /// The input as text, or the `field` of the JSON object it is (see ``unwrappingJSON(_:field:)``).
    func readText(jsonField field: String) throws -> String {
        try unwrappingJSON(try readText(), field: field)
    }

    /// The input decoded from base64 (surrounding whitespace ignored), read as bytes all the way:
    /// no `String` of a possibly huge text is made, and the text is freed before this returns.
    /// - Throws: exit code 4 when the input is not strict standard base64.
    func readBase64() throws -> [UInt8] {
        var text = trimmingASCIIWhitespace(try readInput())
        if text.first == UInt8(ascii: "{") {
            // What `vault encrypt --json` printed.
            text = ArraySlice(try unwrappingJSON(String(decoding: text, as: UTF8.self), field: "blob").utf8)
        }
        do {
            return try text.withUnsafeBytes { try Base64.decode(ascii: $0) }
        } catch {
            FileHandle.standardError.write(Data("vault: the input is not a base64 blob\n".utf8))
            throw ExitCode(4)
        }
    }

    /// Writes the output: standard output, or `--out` as ``OutputFile`` decides (a regular or
    /// new file is replaced by a private 0600 file; a device, FIFO or `/dev/stdout` is written
    /// through; a symbolic link to a regular file is refused).
    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes `text` and a newline.
    func write(line text: String) throws {
        var line = text + "\n"
        try line.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            if let outputPath {
                try OutputFile.write(bytes, to: outputPath)
            } else {
                try OutputFile.writeAll(bytes, to: STDOUT_FILENO)
            }
        } catch {
            FileHandle.standardError.write(Data("vault: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// Exit codes: 0 ok, 1 usage (a value or request over the size limit too: 413), 2 not found or
/// conflict, 3 authentication or authorization, 4 decryption failure (or input that is not a blob
/// or keys blob), 5 network or service failure.
enum ExitStatus {
    /// - Parameter decrypting: the failed call unwrapped a blob's or the input's wrapped keys, so a
    ///   rejected request (400 or 422) means the key service refused those keys: they were altered,
    ///   issued elsewhere, or cut from the blob in the wrong layout. That is a decryption failure.
    static func code(for error: VaultError, decrypting: Bool = false) -> Int32 {
        if decrypting, error.code == .badRequest { return 4 }
        return switch error.code {
        case .payloadTooLarge: 1
        case .notFound, .conflict, .versionConflict: 2
        case .authentication, .authorization: 3
        case .decryptionFailed, .malformedBlob: 4
        case .transport, .timeout, .serverError, .rateLimited, .invalidResponse, .certificateVerification: 5
        default: 1
        }
    }
}

/// Runs a client call, turning a ``VaultError`` into its message on standard error and its exit code.
/// - Parameter decrypting: the call only unwraps keys the input carries (see ``ExitStatus``).
func reportingErrors<Result>(decrypting: Bool = false, _ body: () async throws -> Result) async throws -> Result {
    do {
        return try await body()
    } catch let error as VaultError {
        throw failure(reporting: error, decrypting: decrypting)
    }
}

/// Prints `error` on standard error and returns the exit code to throw for it.
func failure(reporting error: VaultError, decrypting: Bool = false) -> ExitCode {
    FileHandle.standardError.write(Data("vault: \(error.message)\n".utf8))
    return ExitCode(ExitStatus.code(for: error, decrypting: decrypting))
}

/// Prints a value as JSON (snake_case, ISO 8601 dates) on one line.
func printJSON(_ value: some Encodable) throws {
    printLine(try jsonLine(value))
}

/// A value as JSON (snake_case, ISO 8601 dates, sorted keys), without a newline.
func jsonLine(_ value: some Encodable) throws -> String {
    let encoder = VaultJSON.encoder()
    encoder.outputFormatting.insert(.sortedKeys)
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

extension BlobLayout: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument.lowercased() {
        case "a": self = .a
        case "b": self = .b
        case "legacy-a", "a'": self = .legacyA
        default: return nil
        }
    }

    public static var allValueStrings: [String] { ["a", "b", "legacy-a"] }
}
