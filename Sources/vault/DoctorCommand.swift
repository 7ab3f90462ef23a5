import ArgumentParser
import Foundation
import VaultAPI
import WorkOSVault

/// `vault doctor`: the Vault guide's pre-flight and verification checklist as one command.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the configuration, the server and a full object and key round trip.",
        discussion: """
            One line per step (✔ pass, ✘ fail, ! warning, - skipped) and why: WORKOS_API_KEY \
            and WORKOS_CLIENT_ID, the backend in use (the WorkOS API, another server at \
            WORKOS_BASE_URL, or the embedded store), whether the server answers and accepts the \
            key, then a canary object under the context (create, read back, update from version 1 \
            to 2, metadata, delete, read is not found), a data key for the context with a local \
            encrypt/decrypt round trip, and whether a customer-managed key (BYOK) protects the \
            context. The canary is deleted even when a step fails. No value, data key or API key \
            is printed (only the API key's last 4 characters).

            The context is organization_id=org_vault_doctor unless --context is given.
            Exit status: 0 when no step failed, else the first failure's code (1 configuration, \
            2 not found or conflict, 3 key rejected, 4 decryption failure, 5 server unreachable \
            or failing).

            Examples:
              vault doctor
              vault doctor --context organization_id=org_123 --json
              WORKOS_API_KEY=sk_test_... WORKOS_BASE_URL=http://127.0.0.1:8080 vault doctor
            """
    )

    @OptionGroup var client: ClientOptions
    @OptionGroup var context: ContextOptions

    /// The context checked when no `--context` is given.
    static let defaultContext: KeyContext = ["organization_id": "org_vault_doctor"]

    func run() async throws {
        let keyContext = context.pairs.isEmpty ? Self.defaultContext : try context.keyContext()
        let report = DoctorReport(json: client.json)
        if let vault = await checkConfigurationAndConnection(report) {
            await DoctorObjectChecks(vault: vault, context: keyContext).run(report)
            await DoctorKeyChecks(vault: vault, context: keyContext).run(report)
        } else {
            for step in DoctorObjectChecks.stepNames + DoctorKeyChecks.stepNames {
                report.skip(step, "not run: no working connection")
            }
        }
        try report.finish()
    }

    /// The environment, the backend and a first authenticated call.
    /// - Returns: a client that answered, or nil when a step failed (the later ones are skipped).
    private func checkConfigurationAndConnection(_ report: DoctorReport) async -> Vault? {
        let environment = DoctorEnvironmentChecks(environment: ProcessInfo.processInfo.environment)
        let keyUsable = environment.checkAPIKey(report)
        environment.checkClientID(report)
        guard keyUsable else {
            report.skip("backend", "not run: no usable WORKOS_API_KEY")
            report.skip("connection", "not run: no usable WORKOS_API_KEY")
            return nil
        }
        var configuration: VaultConfiguration
        do {
            configuration = try environment.configuration()
            try client.applyCAFile(to: &configuration)
        } catch {
            report.fail("backend", "the WorkOS variables are not usable", error)
            report.skip("connection", "not run: no usable configuration")
            return nil
        }
        environment.describeBackend(configuration, report)

        let remote: Bool
        if case .remote = configuration.backend { remote = true } else { remote = false }
        let vault = await doctorAttempt(report, "connection", "could not open the client") {
            try Vault(configuration: configuration)
        }
        guard let vault else { return nil }
        do {
            _ = try await vault.listObjects(ListObjectsQuery(limit: 1))
        } catch let error as VaultError {
            report.fail("connection", Self.connectionFailure(error, remote: remote), error)
            return nil
        } catch {
            report.fail("connection", "the first call failed: unexpected \(type(of: error))", exitCode: 5)
            return nil
        }
        report.pass(
            "connection",
            remote
                ? "the server answered and accepted the API key (listed objects)"
                : "the embedded store opened and answered (listed objects)"
        )
        return vault
    }

    /// What a failed first call means, before the error's own message.
    private static func connectionFailure(_ error: VaultError, remote: Bool) -> String {
        guard remote else { return "the embedded store did not answer a listing" }
        return switch error.code {
        case .authentication: "the server rejected the API key"
        case .authorization: "the API key may not list objects"
        case .transport, .timeout: "the server did not answer"
        default: "the server answered a listing with an error"
        }
    }
}
