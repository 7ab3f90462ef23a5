// Only `import WorkOSVault`: every type its API mentions must come with it.
import WorkOSVault

let context: KeyContext = ["organization_id": "org_123"]
let query = ListObjectsQuery(limit: 10)
let layout: BlobLayout = .a
let remote = try RemoteConfiguration(
    apiKey: "sk_test_client_only",
    baseURL: "https://vault.example.com",
    retry: RetryPolicy()
)
let vault = try Vault(configuration: VaultConfiguration(backend: .remote(remote)))
_ = (context, query, layout, vault.defaultLayout)

// Without the embedded store, no WorkOS variables is a configuration error, not a new store.
do {
    _ = try VaultConfiguration.fromEnvironment([:])
    fatalError("client-only: fromEnvironment([:]) made a configuration without an embedded store")
} catch let error as VaultError where error.code == .configuration {
    print("client-only: ok")
}
