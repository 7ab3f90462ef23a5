import LocalVault
import Testing

/// Where the embedded store lives when `VAULT_HOME` is not set.
@Suite struct LocalVaultHomeTests {
    #if os(Linux)
    @Test func anAbsoluteXDGDataHomeIsUsed() {
        let folder = LocalVaultHome.defaultDirectory(environment: ["XDG_DATA_HOME": "/data", "HOME": "/home/u"])
        #expect(folder == "/data/workos-vault")
    }

    /// The XDG Base Directory specification: a relative path in `XDG_DATA_HOME` is invalid and
    /// ignored, so the store never moves with the working folder.
    @Test(arguments: ["relative/data", "./data", "data", "~/data", ""])
    func aRelativeOrEmptyXDGDataHomeIsIgnored(value: String) {
        let folder = LocalVaultHome.defaultDirectory(environment: ["XDG_DATA_HOME": value, "HOME": "/home/u"])
        #expect(folder == "/home/u/.local/share/workos-vault")
    }
    #endif

    @Test func vaultHomeWins() {
        let folder = LocalVaultHome.defaultDirectory(environment: [
            "VAULT_HOME": "/srv/vault", "XDG_DATA_HOME": "/data",
        ])
        #expect(folder == "/srv/vault")
    }
}
