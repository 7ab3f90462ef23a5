// swift-tools-version: 6.1
import Foundation
import PackageDescription

// A path dependency's identity is the name of its folder, not the `name:` in its manifest, so the
// root package is "main" in one checkout and something else in another. Derive it from where this
// manifest lives (…/<root>/Benchmarks/Package.swift) so `.product(package:)` works in any clone.
let rootPackageIdentity = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .lastPathComponent
    .lowercased()

let package = Package(
    name: "Benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        // Without the trait, resolution pulls a default-trait dependency that the local mirror lacks.
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .executableTarget(
            name: "EnvelopeCryptoBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "EnvelopeCrypto", package: rootPackageIdentity),
            ],
            path: "Benchmarks/EnvelopeCryptoBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        // Plain timed loops for `./compare`: no benchmark harness in the process, so nothing (the
        // malloc interposer included) sits between the engine and libcrypto.
        // The Swift client's side of the HTTP, batch and local rows (`vault-bench e2e`, `embedded`,
        // `string`, `blobs`, `batch-decrypt`).
        .executableTarget(
            name: "VaultBench",
            dependencies: [
                .product(name: "WorkOSVault", package: rootPackageIdentity),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "EngineThroughput",
            dependencies: [
                .product(name: "EnvelopeCrypto", package: rootPackageIdentity)
            ]
        ),
    ]
)
