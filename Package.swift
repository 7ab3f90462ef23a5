// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "workos-vault-swift",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "EnvelopeCrypto", targets: ["EnvelopeCrypto"])
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
        .testTarget(
            name: "EnvelopeCryptoTests",
            dependencies: ["EnvelopeCrypto", "CLibcrypto"]
        ),
        .testTarget(
            name: "SystemLibraryTests",
            dependencies: ["CLibcurl"]
        ),
    ]
)
