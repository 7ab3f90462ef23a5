import Foundation

/// Milliseconds since 1970, the stored form of every instant.
extension Date {
    package var storedMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }
    package init(storedMilliseconds: Int64) { self.init(timeIntervalSince1970: Double(storedMilliseconds) / 1000) }
}

extension Duration {
    /// Whole milliseconds, rounded up, the stored form of a delay; a delay too long to count
    /// in milliseconds is `Int64.max` (forever), never an overflow.
    var storedMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return seconds < 0 ? Int64.min : Int64.max }
        let (total, carried) = whole.addingReportingOverflow(
            (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        )
        return carried ? Int64.max : total
    }
}
