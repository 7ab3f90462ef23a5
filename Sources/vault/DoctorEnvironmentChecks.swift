import Foundation
import WorkOSVault

/// The doctor's first steps: the WorkOS variables and the backend they select. Values are never
/// printed, except the last four characters of a long API key and of the client id.
struct DoctorEnvironmentChecks {
    let environment: [String: String]

    /// The WorkOS variables set (non-empty), in a fixed order.
    private var workOSVariables: [String] {
        ["WORKOS_API_KEY", "WORKOS_BASE_URL", "WORKOS_CLIENT_ID", "WORKOS_REQUEST_TIMEOUT"]
            .filter { !(environment[$0] ?? "").isEmpty }
    }

    /// Checks `WORKOS_API_KEY`; returns whether the configuration can be built after it.
    func checkAPIKey(_ report: DoctorReport) -> Bool {
        guard let key = environment["WORKOS_API_KEY"], !key.isEmpty else {
            let others = workOSVariables
            if others.isEmpty {
                report.pass("api_key", "WORKOS_API_KEY is not set: the embedded store is in use (not a failure)")
                return true
            }
            report.fail(
                "api_key",
                "WORKOS_API_KEY is not set but \(others.joined(separator: ", ")) is: set it, or unset the others "
                    + "to use the embedded store",
                exitCode: 1
            )
            return false
        }
        guard key.hasPrefix("sk_"), key.count > 3 else {
            report.fail("api_key", "WORKOS_API_KEY is set but does not start with sk_", exitCode: 1)
            return false
        }
        report.pass("api_key", "WORKOS_API_KEY is set and starts with sk_ (\(Self.masked(key, prefix: "sk_")))")
        return true
    }

    /// Checks `WORKOS_CLIENT_ID`: optional for Vault, so its absence is a warning.
    func checkClientID(_ report: DoctorReport) {
        guard let clientID = environment["WORKOS_CLIENT_ID"], !clientID.isEmpty else {
            if workOSVariables.isEmpty {
                report.skip("client_id", "WORKOS_CLIENT_ID is not set; the embedded store does not use it")
            } else {
                report.warn(
                    "client_id",
                    "WORKOS_CLIENT_ID is not set: Vault calls do not need it, the WorkOS SDKs' other APIs do"
                )
            }
            return
        }
        guard clientID.hasPrefix("client_") else {
            report.fail("client_id", "WORKOS_CLIENT_ID is set but does not start with client_", exitCode: 1)
            return
        }
        report.pass(
            "client_id",
            "WORKOS_CLIENT_ID is set and starts with client_ (\(Self.masked(clientID, prefix: "client_")))"
        )
    }

    /// The client configuration the other commands would use, tuned for a quick diagnosis: one
    /// retry instead of three, a 20-second request limit unless `WORKOS_REQUEST_TIMEOUT` says
    /// otherwise, and no unwrapped-key cache (so that decryption really asks the key service).
    func configuration() throws(VaultError) -> VaultConfiguration {
        var configuration: VaultConfiguration
        do {
            configuration = try VaultConfiguration.fromEnvironment(environment)
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError(.configuration, "the WorkOS variables do not form a configuration")
        }
        if case .remote(var remote) = configuration.backend {
            remote.retry = RetryPolicy(maxRetries: 1)
            if (environment["WORKOS_REQUEST_TIMEOUT"] ?? "").isEmpty { remote.requestTimeout = .seconds(20) }
            configuration.backend = .remote(remote)
        }
        configuration.encryptCache = nil
        configuration.decryptCache = nil
        return configuration
    }

    /// Says which backend `configuration` selects.
    func describeBackend(_ configuration: VaultConfiguration, _ report: DoctorReport) {
        switch configuration.backend {
        case .remote(let remote) where remote.baseURL == RemoteConfiguration.defaultBaseURL:
            report.pass("backend", "the WorkOS API at \(RemoteConfiguration.defaultBaseURL)")
        case .remote(let remote):
            report.pass("backend", "another server at \(Self.printable(baseURL: remote.baseURL)) (WORKOS_BASE_URL)")
        case .embedded(let dataDirectory):
            let exists = FileManager.default.fileExists(
                atPath: (dataDirectory as NSString).appendingPathComponent("vault.sqlite")
            )
            report.pass(
                "backend",
                "the embedded store in \(dataDirectory)" + (exists ? "" : " (new: this check creates it)")
            )
        }
    }

    /// `prefix…abcd`: the last four characters only when at least twelve follow the prefix, so
    /// that a short (test) secret is not mostly shown.
    static func masked(_ secret: String, prefix: String) -> String {
        secret.count - prefix.count >= 12 ? "\(prefix)…\(secret.suffix(4))" : "\(prefix)…"
    }

    /// The base URL without any user, password, query or fragment it may carry.
    static func printable(baseURL: String) -> String {
        guard var components = URLComponents(string: baseURL), components.host != nil else {
            return "WORKOS_BASE_URL"
        }
        components.user = nil
        components.password = nil
        components.query = nil
        components.fragment = nil
        return components.string ?? "WORKOS_BASE_URL"
    }
}
