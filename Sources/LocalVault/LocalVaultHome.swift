import Foundation

/// The per-user folder of the embedded store, shared by the library, the CLI and `vault serve`.
public enum LocalVaultHome {
    /// `$VAULT_HOME` when set; otherwise `$XDG_DATA_HOME/workos-vault` or
    /// `~/.local/share/workos-vault` on Linux, `~/Library/Application Support/workos-vault` on macOS.
    ///
    /// A relative `XDG_DATA_HOME` is ignored, as the XDG Base Directory specification requires:
    /// the store must not move with the working folder.
    public static func defaultDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let home = environment["VAULT_HOME"], !home.isEmpty { return home }
        #if os(macOS)
        let base = (NSHomeDirectory() as NSString).appendingPathComponent("Library/Application Support")
        #else
        let base =
            environment["XDG_DATA_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) as NSString).appendingPathComponent(".local/share")
        #endif
        return (base as NSString).appendingPathComponent("workos-vault")
    }
}
