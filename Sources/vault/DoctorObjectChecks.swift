import Foundation
import VaultAPI
import WorkOSVault

/// The canary object's life under the checked context: create → read back → update (version 1
/// to 2) → metadata without the value → delete → read is not found. The canary is deleted even
/// when a step in between fails.
struct DoctorObjectChecks {
    static let stepNames = ["create", "read", "update", "describe", "delete", "read_deleted"]

    let vault: Vault
    let context: KeyContext

    func run(_ report: DoctorReport) async {
        let name = DoctorCanary.objectName()
        let value = DoctorCanary.secretText("value")
        let created = await doctorAttempt(report, "create", "could not create the canary \(name)") {
            try await vault.createObject(name: name, value: value, context: context)
        }
        guard let created else {
            for step in Self.stepNames.dropFirst() { report.skip(step, "not run: the canary was not created") }
            return
        }
        report.pass("create", "created the canary \(name) under \(context.doctorText)")
        if await !lifecycle(of: created, name: name, value: value, report) {
            await cleanUp(created, name: name, report)
        }
    }

    /// The steps after the creation, in order, until one fails.
    /// - Returns: whether the canary was deleted.
    private func lifecycle(
        of created: ObjectMetadata,
        name: String,
        value: String,
        _ report: DoctorReport
    ) async
        -> Bool
    {
        var pending = Self.stepNames.dropFirst()
        defer { for step in pending { report.skip(step, "not run: an earlier canary step failed") } }

        pending.removeFirst()
        let read = await doctorAttempt(report, "read", "could not read the canary back") {
            try await vault.readObject(id: created.id, context: context)
        }
        guard let read else { return false }
        guard read.value == value else {
            report.fail("read", "read the canary back, but its value differs from the one stored", exitCode: 5)
            return false
        }
        report.pass("read", "read the canary back under its context: the same value")

        pending.removeFirst()
        let updated = await doctorAttempt(report, "update", "could not update the canary") {
            try await vault.updateObject(
                id: created.id,
                value: DoctorCanary.secretText("update"),
                versionCheck: created.versionID,
                context: context
            )
        }
        guard let updated, checkVersions(from: created, to: updated.metadata, report) else { return false }

        pending.removeFirst()
        let described = await doctorAttempt(report, "describe", "could not read the canary's metadata") {
            try await vault.describeObject(id: created.id, context: context)
        }
        guard let described else { return false }
        guard described.name == name, described.metadata.context == context,
            described.metadata.version == updated.metadata.version,
            described.metadata.versionID == updated.metadata.versionID
        else {
            report.fail("describe", "the canary's metadata does not match its update", exitCode: 5)
            return false
        }
        let version = described.metadata.version.map { "version \($0)" } ?? "the new version id"
        report.pass("describe", "metadata without the value: \(version), the same name and context")

        pending.removeFirst()
        let deleted = await doctorAttempt(report, "delete", "could not delete the canary") {
            try await vault.deleteObject(id: created.id, context: context)
        }
        guard deleted != nil else { return false }
        report.pass("delete", "deleted the canary")

        pending.removeFirst()
        await checkDeleted(created, report)
        return true
    }

    /// Version numbers 1 then 2, or, from a server that sends none (the WorkOS API), a new version id.
    private func checkVersions(
        from created: ObjectMetadata,
        to updated: ObjectMetadata,
        _ report: DoctorReport
    )
        -> Bool
    {
        switch (created.version, updated.version) {
        case (1, 2):
            report.pass("update", "updated the canary with a version check: version 1 → 2")
            return true
        case (nil, nil):
            guard let before = created.versionID, let after = updated.versionID else {
                report.warn("update", "updated the canary; the server sends no version numbers and no version ids")
                return true
            }
            guard before != after else {
                report.fail("update", "updated the canary, but its version id did not change", exitCode: 5)
                return false
            }
            report.pass("update", "updated the canary; no version numbers (WorkOS API), the version id changed")
            return true
        case (let before, let after):
            let text = { (number: Int?) in number.map(String.init) ?? "none" }
            report.fail(
                "update",
                "updated the canary, but its version went from \(text(before)) to \(text(after)), not 1 → 2",
                exitCode: 5
            )
            return false
        }
    }

    private func checkDeleted(_ created: ObjectMetadata, _ report: DoctorReport) async {
        do {
            _ = try await vault.readObject(id: created.id, context: context)
            report.fail("read_deleted", "the deleted canary can still be read", exitCode: 5)
        } catch let error as VaultError where error.code == .notFound {
            report.pass("read_deleted", "reading the deleted canary is not found (404)")
        } catch let error as VaultError {
            report.fail("read_deleted", "reading the deleted canary failed otherwise than not found", error)
        } catch {
            report.fail("read_deleted", "reading the deleted canary failed: unexpected \(type(of: error))", exitCode: 5)
        }
    }

    /// Deletes the canary after a failed step, so that the doctor leaves nothing behind.
    private func cleanUp(_ created: ObjectMetadata, name: String, _ report: DoctorReport) async {
        let hint = "could not delete the canary \(name); delete it with `vault kv delete \(created.id)`"
        // By id alone: the doctor created this id, and one call less is one failure less.
        let deleted = await doctorAttempt(report, "cleanup", hint) { try await vault.deleteObject(id: created.id) }
        guard deleted != nil else { return }
        report.pass("cleanup", "deleted the canary \(name) after the failed step")
    }
}
