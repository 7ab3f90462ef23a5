import Foundation
import TestProcesses
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The test harness's own promise: a child keeps none of the test process's descriptors. A child
/// that kept the write end of another test's pipe held that test's read open until the child
/// ended (a whole CI run once stalled for a minute on it).
@Suite struct SpawnedProcessTests {
    @Test func aChildKeepsNoDescriptorItWasNotGiven() async throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]) }
        // Inheritable, as the pipes of other libraries in the test process may be.
        let child = try SpawnedProcess(
            program: "/bin/sleep",
            arguments: ["30"],
            environment: [:],
            standardOutput: .null,
            standardError: .null
        )
        defer { child.forceStop() }
        close(ends[1])
        // With the only write end closed here, the read end sees its end at once.
        var poller = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
        #expect(poll(&poller, 1, 5000) == 1)
        var byte: UInt8 = 0
        #expect(read(ends[0], &byte, 1) == 0)
        #expect(child.isRunning)
    }
}
