import Benchmark
import EnvelopeCrypto

/// Everything one payload size needs, built before any measurement starts so that key generation,
/// the first seal and the first base64 encoding never land in a measured iteration.
private struct Fixture {
    let label: String
    let plaintext: [UInt8]
    let key: DataKey
    let encryptedKeys: [UInt8]
    let blob: EnvelopeBlob
    let base64: String

    init(label: String, count: Int) throws {
        var generator = SystemRandomNumberGenerator()
        self.label = label
        plaintext = (0..<count).map { _ in generator.next() }
        key = try DataKey.generate()
        // The shape of a real WorkOS `encrypted_keys`: its ASCII tag, then about 170 opaque bytes.
        encryptedKeys = KeysBlobPrefix.workOS + (0..<169).map { _ in generator.next() }
        blob = try EnvelopeBlob.seal(plaintext, with: key, encryptedKeys: encryptedKeys)
        base64 = blob.base64EncodedString()
    }

    /// Small payloads finish in well under a microsecond, so they run 1000 operations per measured
    /// iteration: otherwise the harness's own clock reads would be a visible share of each sample.
    var configuration: Benchmark.Configuration {
        var configuration = Benchmark.defaultConfiguration
        configuration.scalingFactor = plaintext.count <= 1024 ? .kilo : .one
        return configuration
    }
}

let benchmarks: @Sendable () -> Void = {
    // Short runs keep `swift package benchmark` usable on 2 cores; `./compare` does the long, pinned runs.
    Benchmark.defaultConfiguration = .init(maxDuration: .seconds(1), maxIterations: 100_000)

    let sizes = [("64 B", 64), ("1 KiB", 1024), ("16 KiB", 16 * 1024), ("1 MiB", 1024 * 1024)]
    for (label, count) in sizes {
        let fixture: Fixture
        do {
            fixture = try Fixture(label: label, count: count)
        } catch {
            fatalError("benchmark setup failed for \(label): \(error)")
        }

        Benchmark("Seal \(fixture.label)", configuration: fixture.configuration) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(
                    try EnvelopeBlob.seal(fixture.plaintext, with: fixture.key, encryptedKeys: fixture.encryptedKeys)
                )
            }
        }

        Benchmark("Open \(fixture.label)", configuration: fixture.configuration) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try fixture.blob.open(with: fixture.key))
            }
        }

        Benchmark("Encode base64 \(fixture.label)", configuration: fixture.configuration) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(fixture.blob.base64EncodedString())
            }
        }

        // Layout detection is part of decoding what an SDK stored, so the layout is not forced.
        Benchmark("Decode base64 \(fixture.label)", configuration: fixture.configuration) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try EnvelopeBlob(base64Encoded: fixture.base64))
            }
        }
    }
}
