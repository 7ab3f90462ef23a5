/// How `vault serve` records events (see ``LocalVault/listEvents(_:environmentID:)``).
public struct EventSettings: Sendable, Hashable {
    /// Whether events are recorded; on by default (off only to measure their cost).
    public var recording: Bool
    /// Events older than this are deleted by the purge; nil keeps them for ever.
    public var retention: Duration?

    /// 90 days.
    public static let defaultRetention = Duration.seconds(90 * 86_400)

    public init(recording: Bool = true, retention: Duration? = EventSettings.defaultRetention) {
        self.recording = recording
        self.retention = retention
    }
}
