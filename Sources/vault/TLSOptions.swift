import ArgumentParser
import LocalVaultServer

/// `vault serve --tls-cert FILE --tls-key FILE`: HTTPS instead of plain HTTP.
struct TLSOptions: ParsableArguments {
    @Option(
        name: .customLong("tls-cert"),
        help: ArgumentHelp(
            "A PEM file of the server's certificate (then any intermediates): serve HTTPS. Needs --tls-key.",
            valueName: "file"
        ),
        completion: .file()
    )
    var certificateFile: String?

    @Option(
        name: .customLong("tls-key"),
        help: ArgumentHelp("The PEM file of the certificate's private key. Needs --tls-cert.", valueName: "file"),
        completion: .file()
    )
    var keyFile: String?

    func validate() throws {
        guard (certificateFile == nil) == (keyFile == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together: pass both or neither")
        }
    }

    /// The TLS settings, read and checked; nil without the options.
    /// - Throws: `ValidationError` naming the file that cannot be used.
    func load() throws -> ServerTLS? {
        guard let certificateFile, let keyFile else { return nil }
        do {
            return try ServerTLS(certificateFile: certificateFile, keyFile: keyFile)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
