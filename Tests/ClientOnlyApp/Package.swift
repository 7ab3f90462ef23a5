// swift-tools-version: 6.1
// An app that uses WorkOSVault against a remote Vault only, with the package's traits off:
// scripts/test builds it and checks that neither the embedded store (LocalVault, GRDB) nor the
// server (Hummingbird, NIO) was built for it.
import PackageDescription

let package = Package(
    name: "ClientOnlyApp",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "workos-vault-swift", path: "../..", traits: [])
    ],
    targets: [
        .executableTarget(
            name: "ClientOnlyApp",
            dependencies: [.product(name: "WorkOSVault", package: "workos-vault-swift")]
        )
    ]
)
