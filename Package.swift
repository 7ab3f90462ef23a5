// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "workos-vault-swift",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EnvelopeCrypto", targets: ["EnvelopeCrypto"]),
        .library(name: "VaultAPI", targets: ["VaultAPI"]),
        .library(name: "LocalVault", targets: ["LocalVault"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
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
        .target(
            name: "EnvelopeCrypto",
            dependencies: ["CLibcrypto"]
        ),
        .target(
            name: "VaultAPI"
        ),
        .target(
            name: "LocalVault",
            dependencies: [
                "EnvelopeCrypto",
                "VaultAPI",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "EnvelopeCryptoTests",
            dependencies: ["EnvelopeCrypto"]
        ),
        .testTarget(
            name: "LocalVaultTests",
            dependencies: ["LocalVault", "VaultAPI", "EnvelopeCrypto"]
        ),
        .testTarget(
            name: "SystemLibraryTests",
            dependencies: ["CLibcurl"]
        ),
    ]
)
