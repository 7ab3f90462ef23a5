import EnvelopeCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress bar on standard error (bytes, rate, time left), redrawn at most 10 times
/// a second. Shown only when standard error is a terminal, `--quiet` is not given and the input
/// is larger than ``threshold`` (or of unknown size, once that much has passed).
final class ProgressBar {
    /// Inputs up to this size finish too fast for a bar to help.
    static let threshold = 4 << 20

    private let total: Int?
    private let started = ContinuousClock.now
    private var lastDrawn: ContinuousClock.Instant?
    private var drawn = false

    private init(total: Int?) { self.total = total }

    /// A bar for an input of `total` bytes (`nil`: a pipe), or nil when none should be shown.
    static func make(total: Int?, quiet: Bool) -> ProgressBar? {
        guard !quiet, isatty(STDERR_FILENO) == 1, (total ?? Int.max) > threshold else { return nil }
        return ProgressBar(total: total)
    }

    func update(_ progress: FileProgress) {
        let now = ContinuousClock.now
        if let lastDrawn, now - lastDrawn < .milliseconds(100) { return }
        guard progress.completedBytes > Self.threshold || drawn else { return }
        lastDrawn = now
        draw(progress.completedBytes, elapsed: now - started)
    }

    /// Draws the final state and ends the line.
    func finish(_ completed: Int) {
        guard drawn else { return }
        draw(completed, elapsed: ContinuousClock.now - started)
        FileHandleWriter.standardError("\n")
    }

    private func draw(_ completed: Int, elapsed: Duration) {
        drawn = true
        FileHandleWriter.standardError("\r\u{1B}[K" + Self.line(completed: completed, total: total, elapsed: elapsed))
    }

    /// `  42% [========>           ] 430.1 MiB / 1.0 GiB  512.0 MiB/s  1 s left`, or without a total
    /// `430.1 MiB  512.0 MiB/s`.
    static func line(completed: Int, total: Int?, elapsed: Duration) -> String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(completed) / seconds : 0
        let speed = "\(size(Int(rate)))/s"
        guard let total, total > 0 else { return "\(size(completed))  \(speed)" }
        let fraction = min(1, Double(completed) / Double(total))
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar =
            String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(0, width - filled - 1))
        let percent = String(Int(fraction * 100))
        let left = rate > 0 ? "  \(Int((Double(total - completed) / rate).rounded(.up))) s left" : ""
        return String(repeating: " ", count: max(0, 3 - percent.count)) + percent
            + "% [\(bar)] \(size(completed)) / \(size(total))  \(speed)\(left)"
    }

    /// `512 B`, `1.5 KiB`, `430.1 MiB`, `1.0 GiB`.
    static func size(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        guard unit > 0 else { return "\(bytes) B" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}

/// Unbuffered writes to standard error (the bar must appear as it is drawn).
enum FileHandleWriter {
    static func standardError(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = try? writeAll(UnsafeRawBufferPointer(bytes), to: STDERR_FILENO) }
    }
}
