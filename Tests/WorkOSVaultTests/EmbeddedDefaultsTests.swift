import LocalVault
import Testing
import WorkOSVault

/// WorkOSVault states the embedded store's defaults itself (it builds without LocalVault when the
/// `EmbeddedStore` trait is off): they must stay the store's.
@Suite struct EmbeddedDefaultsTests {
    @Test func thePurgeDelayIsTheStoresOwn() {
        #expect(VaultConfiguration.defaultEmbeddedPurgeDelay == LocalVaultConfiguration.defaultPurgeDelay)
        #expect(
            VaultConfiguration(backend: .embedded(dataDirectory: "/unused")).embeddedPurgeDelay
                == LocalVaultConfiguration.defaultPurgeDelay
        )
    }
}
