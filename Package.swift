// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "workos-vault-swift",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EnvelopeCrypto", targets: ["EnvelopeCrypto"]),
        .library(name: "VaultAPI", targets: ["VaultAPI"]),
        .library(name: "LocalVault", targets: ["LocalVault"]),
        .library(name: "LocalVaultPostgres", targets: ["LocalVaultPostgres"]),
        .library(name: "WorkOSVault", targets: ["WorkOSVault"]),
        .library(name: "LocalVaultServer", targets: ["LocalVaultServer"]),
        .library(name: "CustomerKeyProviders", targets: ["CustomerKeyProviders"]),
        .executable(name: "vault", targets: ["vault"]),
    ],
    traits: [
        .trait(
            name: "EmbeddedStore",
            description: "The embedded store (SQLite, through GRDB) behind `Vault()` without WorkOS variables"
        ),
        .default(enabledTraits: ["EmbeddedStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // `swift package generate-documentation` (scripts/docs); a plugin only, never linked.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // C modules are implementation details: never products, imported by one module each.
        .systemLibrary(
            name: "CLibcrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        .systemLibrary(
            name: "CLibcurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),
        // Base64 with an AVX2 kernel picked at run time on x86-64, scalar elsewhere.
        .target(
            name: "CBase64"
        ),
        .target(
            name: "EnvelopeCrypto",
            dependencies: ["CLibcrypto", "CBase64"]
        ),
        .target(
            name: "VaultAPI"
        ),
        .target(
            name: "VaultHTTP",
            dependencies: ["CLibcurl"]
        ),
        .target(
            name: "WorkOSVault",
            dependencies: [
                "EnvelopeCrypto",
                "VaultAPI",
                "VaultHTTP",
                // A remote-only client (traits off) builds neither LocalVault nor GRDB.
                .target(name: "LocalVault", condition: .when(traits: ["EmbeddedStore"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // BYOK providers (AWS KMS, Google Cloud KMS, Azure Key Vault) over VaultHTTP, and the
        // customer-key file that names them.
        .target(
            name: "CustomerKeyProviders",
            dependencies: [
                "EnvelopeCrypto",
                "LocalVault",
                "VaultHTTP",
            ]
        ),
        .target(
            name: "LocalVault",
            dependencies: [
                "EnvelopeCrypto",
                "VaultAPI",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The PostgreSQL store, shared by several `vault serve` instances.
        .target(
            name: "LocalVaultPostgres",
            dependencies: [
                "LocalVault",
                "VaultAPI",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "LocalVaultServer",
            dependencies: [
                "EnvelopeCrypto",
                "LocalVault",
                "LocalVaultPostgres",
                "VaultAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // TLS (`--tls-cert`/`--tls-key`) and the SIGHUP reload.
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "vault",
            dependencies: [
                "EnvelopeCrypto",
                "VaultAPI",
                "WorkOSVault",
                "LocalVault",
                "LocalVaultPostgres",
                "LocalVaultServer",
                "CustomerKeyProviders",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Child processes for the tests that start `vault`, openssl or python3 (not a product).
        .target(name: "TestProcesses", path: "Tests/TestProcesses"),
        .testTarget(
            name: "EnvelopeCryptoTests",
            dependencies: ["EnvelopeCrypto"]
        ),
        .testTarget(
            name: "LocalVaultTests",
            dependencies: [
                "LocalVault",
                "LocalVaultPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                "VaultAPI",
                "EnvelopeCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "LocalVaultPostgresTests",
            dependencies: [
                "LocalVaultPostgres",
                "LocalVault",
                "VaultAPI",
                "EnvelopeCrypto",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "LocalVaultServerTests",
            dependencies: [
                "TestProcesses",
                "WorkOSVault",
                "VaultHTTP",
                "LocalVaultServer",
                "LocalVault",
                "VaultAPI",
                "EnvelopeCrypto",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "WorkOSVaultTests",
            dependencies: [
                "TestProcesses",
                "WorkOSVault",
                "VaultHTTP",
                "VaultAPI",
                "EnvelopeCrypto",
                "LocalVault",
                "LocalVaultServer",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "CustomerKeyProvidersTests",
            dependencies: [
                "CustomerKeyProviders",
                "LocalVault",
                "VaultHTTP",
                "EnvelopeCrypto",
                // The Google Cloud KMS and Azure Key Vault contract doubles.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "VaultCLITests",
            dependencies: ["vault", "TestProcesses"]
        ),
        .testTarget(
            name: "SystemLibraryTests",
            dependencies: ["CLibcurl"]
        ),
    ]
)

// Async functions that are not isolated run on their caller's executor (SE-0461) instead of hopping
// to the global one at every call.
for target in package.targets where target.type != .system && target.name != "LocalVaultServer" {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
}
