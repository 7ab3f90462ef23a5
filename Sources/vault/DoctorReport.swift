import ArgumentParser
import Foundation
import WorkOSVault

/// How a `vault doctor` step ended.
enum DoctorStatus: String, Encodable {
    case pass, fail, warn, skip

    var symbol: String {
        switch self {
        case .pass: "✔"
        case .fail: "✘"
        case .warn: "!"
        case .skip: "-"
        }
    }
}

/// One line of the doctor's report. `detail` says why, and never holds a secret.
struct DoctorStep: Encodable {
    var name: String
    var status: DoctorStatus
    var detail: String
    /// The CLI exit code a failure stands for; not part of the JSON.
    var exitCode: Int32

    enum CodingKeys: String, CodingKey {
        case name, status, detail
    }
}

/// The steps so far. In text mode each step is printed as soon as it ends, so a hanging server
/// shows where it hangs; in JSON mode the whole report is printed at the end.
final class DoctorReport {
    private(set) var steps: [DoctorStep] = []
    let json: Bool

    init(json: Bool) {
        self.json = json
    }

    /// No step failed (warnings and skips are not failures).
    var ok: Bool { !steps.contains { $0.status == .fail } }

    /// The first failure's exit code, 0 when none failed.
    var exitCode: Int32 { steps.first { $0.status == .fail }?.exitCode ?? 0 }

    func pass(_ name: String, _ detail: String) {
        record(DoctorStep(name: name, status: .pass, detail: detail, exitCode: 0))
    }

    func warn(_ name: String, _ detail: String) {
        record(DoctorStep(name: name, status: .warn, detail: detail, exitCode: 0))
    }

    func skip(_ name: String, _ detail: String) {
        record(DoctorStep(name: name, status: .skip, detail: detail, exitCode: 0))
    }

    func fail(_ name: String, _ detail: String, exitCode: Int32) {
        record(DoctorStep(name: name, status: .fail, detail: detail, exitCode: exitCode))
    }

    /// A failed call: the error's message (which never holds secrets) and its exit code.
    /// - Parameter decrypting: the call unwrapped keys it was given (see ``ExitStatus``).
    func fail(_ name: String, _ what: String, _ error: VaultError, decrypting: Bool = false) {
        var detail = "\(what): \(error.message)"
        if let status = error.httpStatus { detail += " (HTTP \(status))" }
        fail(name, detail, exitCode: ExitStatus.code(for: error, decrypting: decrypting))
    }

    private func record(_ step: DoctorStep) {
        steps.append(step)
        if !json { printLine("\(step.status.symbol) \(step.name): \(step.detail)") }
    }

    /// Prints the JSON report or the summary line.
    /// - Throws: the first failure's ``ExitCode``.
    func finish() throws {
        struct Printed: Encodable {
            var ok: Bool
            var steps: [DoctorStep]
        }
        if json {
            try printJSON(Printed(ok: ok, steps: steps))
        } else if ok {
            let warnings = steps.count { $0.status == .warn }
            printLine(warnings == 0 ? "all checks passed" : "all checks passed (\(warnings) warning(s))")
        } else {
            let failures = steps.count { $0.status == .fail }
            printLine("\(failures) check(s) failed")
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}
