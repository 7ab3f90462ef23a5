import EnvelopeCrypto
import Foundation
import Testing

@testable import LocalVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Customer key files are read off the caller's executor, with a deadline: a key file that never
/// answers fails its own calls (403) and stalls nothing else.
@Suite struct KeyFileReadTests {
    let env = LocalVault.defaultEnvironmentID

    @Test("a FIFO as customer key file fails its calls with 403 while other calls go on", .timeLimit(.minutes(2)))
    func fifoKeyFileDoesNotStall() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fifo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fifo = folder + "/org_abc.key"
        #expect(mkfifo(fifo, 0o600) == 0)
        let temporary = try await TemporaryVault(.sqlite, customerKeys: [CustomerKeyTests.mapping(path: fifo)])
        let vault = temporary.vault
        let env = env
        // More stuck calls than the cooperative pool has threads.
        let stuck = (0..<(ProcessInfo.processInfo.activeProcessorCount * 2 + 2)).map { _ in
            Task { try await vault.createDataKey(context: ["organization_id": "org_abc"], environmentID: env) }
        }
        for index in 0..<20 {
            let issued = try await vault.createDataKey(context: ["organization_id": "org_\(index)"], environmentID: env)
            #expect(
                try await vault.decryptDataKey(encryptedKeys: issued.encryptedKeys, environmentID: env).key
                    == issued.key
            )
        }
        for task in stuck {
            let error = await #expect(throws: LocalVaultError.self) { try await task.value }
            #expect(error?.httpStatus == 403)
        }
    }

    @Test("a read that does not finish in time throws TimedOut; other reads proceed", .timeLimit(.minutes(2)))
    func readsHaveADeadline() async throws {
        let gate = DispatchSemaphore(value: 0)
        defer { gate.signal() }
        await #expect(throws: OffloadedFileRead.TimedOut.self) {
            try await OffloadedFileRead.run(timeout: .milliseconds(300)) { gate.wait() }
        }
        #expect(try await OffloadedFileRead.run(timeout: .seconds(30)) { 42 } == 42)
    }

    @Test("a key file that is not a regular file is refused without blocking")
    func onlyRegularFilesAreRead() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fifo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(mkfifo(folder + "/fifo", 0o600) == 0)
        #expect(throws: KeyFile.Failure.notARegularFile) { try KeyFile.load(path: folder + "/fifo") }
    }
}
