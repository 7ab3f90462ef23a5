import ArgumentParser

/// `vault`: a local WorkOS Vault.
@main
struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "A local WorkOS Vault: the Vault REST API and its encryption, on your machine.",
        discussion: """
            Data lives in --data-dir, by default $VAULT_HOME, else $XDG_DATA_HOME/workos-vault or \
            ~/.local/share/workos-vault (~/Library/Application Support/workos-vault on macOS).
            Secrets (API keys, the root key) are read from the environment or from files, never \
            from the command line.
            """,
        subcommands: [Encrypt.self, Decrypt.self, Rekey.self, KV.self, Keys.self, Serve.self]
    )
}
