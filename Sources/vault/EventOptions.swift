import ArgumentParser
import LocalVaultServer
import Logging

/// `vault serve`'s event options: `--events on|off` and `--event-retention DAYS`.
struct EventOptions: ParsableArguments {
    enum Switch: String, ExpressibleByArgument, CaseIterable {
        case on, off
    }

    @Option(
        name: .customLong("events"),
        help: "Record events (the audit trail of GET /events): on, or off only to measure their cost."
    )
    var recording: Switch = .on

    @Option(
        name: .customLong("event-retention"),
        help: "Days events are kept before the purge deletes them (0: kept for ever)."
    )
    var retentionDays = 90

    func validate() throws {
        guard (0...36_500).contains(retentionDays) else {
            throw ValidationError("--event-retention must be 0 to 36500 days")
        }
    }

    /// The settings; warns on `logger` when events are off.
    func settings(warningTo logger: Logger) -> EventSettings {
        if recording == .off {
            logger.warning("events are off (--events off): reads and changes leave no audit trail")
        }
        return EventSettings(
            recording: recording == .on,
            retention: retentionDays == 0 ? nil : .seconds(retentionDays * 86_400)
        )
    }
}
