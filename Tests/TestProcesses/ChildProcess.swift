import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A finished child: its shell-style status and what it wrote.
public struct FinishedProcess: Sendable {
    /// The exit status, or 128 + the signal; -1 when it was stopped at its time limit.
    public var status: Int32
    public var output: Data
    public var error: String

    public var outputText: String { String(decoding: output, as: UTF8.self) }
}

/// Runs programs for tests without ever blocking a thread of the cooperative pool on them: their
/// input and output go through files in a temporary folder, and their end is polled.
public enum ChildProcess {
    /// This process's environment (what children get unless told otherwise).
    public static var inheritedEnvironment: [String: String] { ProcessInfo.processInfo.environment }

    /// Runs `program` (a path; `/usr/bin/env` finds commands on `PATH`) to its end, feeding it
    /// `input`; one still running after `timeout` is killed (status -1). Its standard output is a
    /// file, or a pipe with `outputThroughPipe` (read on a thread of its own).
    public static func run(
        _ program: String,
        _ arguments: [String],
        environment: [String: String] = inheritedEnvironment,
        input: Data = Data(),
        outputThroughPipe: Bool = false,
        timeout: Duration = .seconds(120)
    ) async throws -> FinishedProcess {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let paths = files(in: folder)
        try input.write(to: URL(fileURLWithPath: paths.input))
        var pipeOutput: Task<Data, Never>?
        let standardOutput: SpawnedProcess.Output
        if outputThroughPipe {
            let ends = try makePipe()
            standardOutput = .descriptor(ends.write)
            pipeOutput = Task { await readAll(ends.read) }
        } else {
            standardOutput = .file(paths.output)
        }
        let process: SpawnedProcess
        do {
            defer { if case .descriptor(let end) = standardOutput { close(end) } }
            process = try SpawnedProcess(
                program: program,
                arguments: arguments,
                environment: environment,
                standardInput: .file(paths.input),
                standardOutput: standardOutput,
                standardError: .file(paths.error)
            )
        }
        var status: Int32 = -1
        if try await process.waitForExit(timeout: timeout) == nil {
            process.forceStop()
        } else {
            status = process.shellStatus ?? -1
        }
        var result = finished(status: status, paths: paths)
        if let pipeOutput { result.output = await pipeOutput.value }
        return result
    }

    /// `run` for the few places that cannot wait asynchronously (a test trait's condition): for
    /// quick commands only, it blocks its thread until the child ends.
    public static func runBlocking(
        _ program: String,
        _ arguments: [String],
        environment: [String: String] = inheritedEnvironment
    ) throws -> FinishedProcess {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let paths = files(in: folder)
        let process = try SpawnedProcess(
            program: program,
            arguments: arguments,
            environment: environment,
            standardOutput: .file(paths.output),
            standardError: .file(paths.error)
        )
        var status: Int32 = 0
        while waitpid(process.processIdentifier, &status, 0) == -1, errno == EINTR {}
        let ended = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return finished(status: ended, paths: paths)
    }

    /// Starts a server that announces itself on its first line of standard output (`listening on
    /// URL`) and returns it with that line, nil if it ended or stayed silent for `timeout` (it is
    /// then killed). Standard error goes to `standardErrorPath`.
    public static func startAnnouncing(
        _ program: String,
        _ arguments: [String],
        environment: [String: String],
        standardErrorPath: String,
        timeout: Duration = .seconds(60)
    ) async throws -> (process: SpawnedProcess, firstLine: String?) {
        let ends = try makePipe()
        let process: SpawnedProcess
        do {
            defer { close(ends.write) }
            process = try SpawnedProcess(
                program: program,
                arguments: arguments,
                environment: environment,
                standardOutput: .descriptor(ends.write),
                standardError: .file(standardErrorPath)
            )
        } catch {
            close(ends.read)
            throw error
        }
        let gotLine = Mutex(false)
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            if !gotLine.withLock({ $0 }) { process.signal(SIGKILL) }
        }
        let line = await readLine(ends.read)
        gotLine.withLock { $0 = true }
        watchdog.cancel()
        if line == nil { process.forceStop() }
        return (process, line)
    }

    /// A pipe whose ends no child inherits (each child closes what it was not given, but not
    /// every child of this process is started here).
    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw SpawnedProcess.SpawnError(program: "pipe", errno: errno) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return (ends[0], ends[1])
    }

    /// Reads to the end on a thread of its own (the reads block), then closes `descriptor`.
    private static func readAll(_ descriptor: Int32) async -> Data {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                defer { close(descriptor) }
                var data = Data()
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = read(descriptor, &buffer, buffer.count)
                    if count < 0, errno == EINTR { continue }
                    guard count > 0 else { break }
                    data.append(contentsOf: buffer[0..<count])
                }
                continuation.resume(returning: data)
            }
        }
    }

    /// Reads up to the first newline on a thread of its own (the read blocks), then closes `descriptor`.
    private static func readLine(_ descriptor: Int32) async -> String? {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                defer { close(descriptor) }
                var bytes: [UInt8] = []
                var byte: UInt8 = 0
                while true {
                    let count = read(descriptor, &byte, 1)
                    if count < 0, errno == EINTR { continue }
                    guard count == 1 else {
                        continuation.resume(returning: nil)
                        return
                    }
                    if byte == UInt8(ascii: "\n") { break }
                    bytes.append(byte)
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
    }

    private static func makeFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(
            atPath: folder,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        return folder
    }

    private static func files(in folder: String) -> (input: String, output: String, error: String) {
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        return (path("stdin"), path("stdout"), path("stderr"))
    }

    private static func finished(
        status: Int32,
        paths: (input: String, output: String, error: String)
    )
        -> FinishedProcess
    {
        FinishedProcess(
            status: status,
            output: FileManager.default.contents(atPath: paths.output) ?? Data(),
            error: (try? String(contentsOfFile: paths.error, encoding: .utf8)) ?? ""
        )
    }
}
