import EnvelopeCrypto
import LocalVault
import VaultAPI
import WorkOSVault

/// The key steps: a data key for the checked context, a local encrypt/decrypt round trip, and
/// who manages the context's key (a customer-managed key or Vault's own).
struct DoctorKeyChecks {
    static let stepNames = ["data_key", "round_trip", "key_management"]

    let vault: Vault
    let context: KeyContext

    func run(_ report: DoctorReport) async {
        let dataKey = await doctorAttempt(report, "data_key", "could not get a data key for the context") {
            try await vault.createDataKey(context: context)
        }
        guard let dataKey else {
            for step in Self.stepNames.dropFirst() { report.skip(step, "not run: no data key") }
            return
        }
        report.pass("data_key", "the key service issued a data key for \(context.doctorText)")
        await checkRoundTrip(dataKey, report)
        describeKeyManagement(dataKey.encryptedKeys, report)
    }

    /// Encrypts a random canary here with the data key, then decrypts the blob as any reader
    /// would: the key service unwraps the blob's keys (no cache) and the text is opened here.
    private func checkRoundTrip(_ dataKey: ResolvedDataKey, _ report: DoctorReport) async {
        let plaintext = DoctorCanary.secretText("plaintext")
        let blob: String
        do {
            blob = try EnvelopeBlob.sealedBase64(plaintext, with: dataKey.key, encryptedKeys: dataKey.encryptedKeys)
        } catch let error as EnvelopeCryptoError {
            report.fail("round_trip", "could not encrypt locally: \(error.reason)", exitCode: 4)
            return
        } catch {
            report.fail("round_trip", "could not encrypt locally: unexpected \(type(of: error))", exitCode: 4)
            return
        }
        let decrypted = await doctorAttempt(report, "round_trip", "could not decrypt the canary", decrypting: true) {
            try await vault.decrypt(blob)
        }
        guard let decrypted else { return }
        guard decrypted == plaintext else {
            report.fail("round_trip", "decrypted the canary, but the text differs", exitCode: 4)
            return
        }
        report.pass(
            "round_trip",
            "encrypted a random canary locally and decrypted it; the key service unwrapped its data key"
        )
    }

    /// Reads who wraps the data key from the `encrypted_keys` blob (nothing is unwrapped).
    private func describeKeyManagement(_ encryptedKeys: [UInt8], _ report: DoctorReport) {
        if encryptedKeys.starts(with: KeysBlobPrefix.workOS) {
            report.pass("key_management", "managed by WorkOS (cannot tell from the blob)")
        } else if let wrapping = LocalVaultKeyWrapping(encryptedKeys: encryptedKeys) {
            if wrapping.usesCustomerManagedKey {
                let vaultKEKs =
                    wrapping.vaultKEKCount == 0 ? "" : ", and \(wrapping.vaultKEKCount) Vault-managed KEK(s)"
                report.pass(
                    "key_management",
                    "customer-managed key (BYOK): \(wrapping.customerKeyIDs.joined(separator: ", "))\(vaultKEKs)"
                )
            } else {
                report.pass(
                    "key_management",
                    "Vault-managed: \(wrapping.vaultKEKCount) Vault KEK(s), no customer-managed key (BYOK)"
                )
            }
        } else if encryptedKeys.starts(with: KeysBlobPrefix.localVault) {
            report.warn("key_management", "the encrypted keys carry LocalVault's prefix but do not parse")
        } else {
            report.warn("key_management", "an unknown key service issued the data key: cannot tell who manages it")
        }
    }
}
