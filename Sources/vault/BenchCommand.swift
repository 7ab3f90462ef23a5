import ArgumentParser
import Foundation
import VaultAPI
import WorkOSVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vault bench`: measurements for `Benchmarks/compare`, kept out of `vault --help`.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure this client against a Vault server (used by Benchmarks/compare).",
        shouldDisplay: false,
        subcommands: [E2E.self]
    )
}

extension Bench {
    /// `vault bench e2e`: `Vault.encrypt` and `Vault.decrypt` of small text through a real server,
    /// timed the way `Benchmarks/python/sdk_e2e.py` times the official Python SDK, so that the two
    /// print lines that compare directly.
    struct E2E: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "e2e",
            abstract: "Time end-to-end encrypt and decrypt calls against the server at WORKOS_BASE_URL.",
            discussion: """
                Every call makes one request (POST /keys/data-key to encrypt, POST /keys/decrypt to \
                decrypt) and does the AES-GCM work here, exactly as an application would. Decrypt \
                calls open a blob made once at the start and check the plaintext they get. A \
                warm-up, not measured, opens the connections first.

                Prints one line per operation on standard output:
                  e2e NAME OPS_PER_SECOND CPU_MICROSECONDS_PER_OPERATION
                where NAME is encrypt-64b or decrypt-64b (with -cN appended when --concurrency N > 1) \
                and CPU is this process's user plus system time (getrusage, every thread, libcurl's \
                included) divided by the operations completed.

                Example:
                  VAULT_API_KEYS=sk_test_bench vault serve --rate-limit 1000000000 &
                  WORKOS_API_KEY=sk_test_bench WORKOS_BASE_URL=http://127.0.0.1:8080 \\
                    vault bench e2e --seconds 5 --concurrency 8
                """
        )

        @Option(help: "How long to measure each operation, in seconds.")
        var seconds = 3.0

        @Option(help: "Unmeasured calls before each measurement, in seconds.")
        var warmup = 0.5

        @Option(help: "Calls in flight at once; 1 makes sequential calls, as a plain loop would.")
        var concurrency = 1

        @Option(help: "The plaintext size, in bytes (ASCII text).")
        var size = 64

        func validate() throws {
            guard seconds > 0, seconds <= 600 else {
                throw ValidationError("--seconds must be above 0 and at most 600")
            }
            guard warmup >= 0, warmup <= 60 else { throw ValidationError("--warmup must be 0 to 60") }
            guard (1...1_024).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 1024") }
            guard (0...1 << 20).contains(size) else { throw ValidationError("--size must be 0 to 1048576") }
        }

        func run() async throws {
            let vault = try Self.remoteVault()
            let expected = String(String(repeating: "4242 4242 4242 4242 ", count: size / 20 + 1).prefix(size))
            let context: KeyContext = ["organization_id": "org_bench"]
            let suffix = "-\(size)b" + (concurrency > 1 ? "-c\(concurrency)" : "")

            let encryption = try await measure {
                _ = try await vault.encrypt(expected, context: context)
            }
            printLine(encryption.line(name: "encrypt" + suffix))

            let blob = try await reportingErrors { try await vault.encrypt(expected, context: context) }
            let decryption = try await measure {
                guard try await vault.decrypt(blob) == expected else {
                    throw VaultError(.decryptionFailed, "the blob decrypted to something else")
                }
            }
            printLine(decryption.line(name: "decrypt" + suffix))
        }

        /// A client for the REST API only: without WORKOS_API_KEY `Vault()` would fall back to the
        /// embedded store and the figures would measure no server at all. Retries are off so that a
        /// failing server stops the run instead of slowing it down.
        private static func remoteVault() throws -> Vault {
            let environment = ProcessInfo.processInfo.environment
            guard let apiKey = environment["WORKOS_API_KEY"], !apiKey.isEmpty,
                let baseURL = environment["WORKOS_BASE_URL"], !baseURL.isEmpty
            else { throw ValidationError("set WORKOS_API_KEY and WORKOS_BASE_URL to the server to measure") }
            do {
                let configuration = try RemoteConfiguration(
                    apiKey: apiKey,
                    baseURL: baseURL,
                    requestTimeout: .seconds(10),
                    retry: .none
                )
                let rest = VaultRESTClient(configuration: configuration)
                return Vault(resolver: RemoteKEKResolver(client: rest), objects: rest)
            } catch let error as VaultError {
                throw failure(reporting: error)
            }
        }

        /// Runs `operation` for the warm-up, then for `seconds`, from `concurrency` tasks that each
        /// call it back to back.
        private func measure(_ operation: @escaping @Sendable () async throws -> Void) async throws -> Measurement {
            _ = try await reportingErrors { try await Self.callRepeatedly(operation, for: warmup, tasks: concurrency) }
            let cpuBefore = ProcessCPUTime.now()
            let clock = ContinuousClock()
            let start = clock.now
            let operations = try await reportingErrors {
                try await Self.callRepeatedly(operation, for: seconds, tasks: concurrency)
            }
            let elapsed = start.duration(to: clock.now)
            return Measurement(
                operations: operations,
                seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                cpuMicroseconds: ProcessCPUTime.now() - cpuBefore
            )
        }

        /// The calls completed. The clock is read between calls, so the last call of each task may
        /// end a little after the deadline; the caller times the whole run, so the rate stays exact.
        private static func callRepeatedly(
            _ operation: @escaping @Sendable () async throws -> Void,
            for seconds: Double,
            tasks: Int
        ) async throws -> Int {
            let clock = ContinuousClock()
            let deadline = clock.now + .milliseconds(Int64(seconds * 1000))
            return try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        var completed = 0
                        while clock.now < deadline {
                            try await operation()
                            completed += 1
                        }
                        return completed
                    }
                }
                return try await group.reduce(0, +)
            }
        }
    }

    /// One operation's figures.
    struct Measurement {
        var operations: Int
        var seconds: Double
        var cpuMicroseconds: Double

        /// `e2e NAME OPS_PER_SECOND CPU_MICROSECONDS_PER_OPERATION`
        func line(name: String) -> String {
            let perSecond = seconds > 0 ? Double(operations) / seconds : 0
            let cpuPerOperation = operations > 0 ? cpuMicroseconds / Double(operations) : 0
            return "e2e \(name) \(String(format: "%.1f", perSecond)) \(String(format: "%.1f", cpuPerOperation))"
        }
    }
}

/// CPU time used by the whole process: a client's cost per request includes its transport thread,
/// which a per-thread clock would miss.
enum ProcessCPUTime {
    /// User plus system time so far, in microseconds.
    static func now() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        // Glibc's headers give RUSAGE_SELF as an enum case but take the int it stands for.
        let who = __rusage_who_t(RUSAGE_SELF.rawValue)
        #else
        let who = RUSAGE_SELF
        #endif
        guard getrusage(who, &usage) == 0 else { return 0 }
        return microseconds(usage.ru_utime) + microseconds(usage.ru_stime)
    }

    private static func microseconds(_ time: timeval) -> Double {
        Double(time.tv_sec) * 1e6 + Double(time.tv_usec)
    }
}
