import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn` and reaped with `waitpid` on its own pid.
///
/// Not Foundation's `Process`: its `run()` was seen to crash (a memcpy over-read, swift-corelibs-
/// foundation#5472) and to leave children unreaped when several tests start them at once. The
/// child starts with no signal blocked.
final class SpawnedProcess: Sendable {
    /// How a child ended.
    enum TerminationReason: Sendable, Equatable {
        case exit
        case uncaughtSignal
    }

    let processIdentifier: pid_t
    let arguments: [String]
    /// The raw `waitpid` status once reaped.
    private let ended = Mutex<Int32?>(nil)

    /// Starts `program` with `arguments` and `environment`; standard input is `/dev/null`,
    /// standard output goes to `standardOutput` (a descriptor the child gets a copy of) or a file,
    /// and standard error to the file `standardErrorPath`.
    init(
        program: String,
        arguments: [String],
        environment: [String: String],
        standardOutput: Output,
        standardErrorPath: String
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        switch standardOutput {
        case .descriptor(let descriptor): posix_spawn_file_actions_adddup2(&actions, descriptor, 1)
        case .file(let path): posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        posix_spawn_file_actions_addopen(&actions, 2, standardErrorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for entry in envp { free(entry) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw SpawnError(program: program, errno: spawned) }
        processIdentifier = pid
        self.arguments = arguments
    }

    enum Output {
        case descriptor(Int32)
        case file(String)
    }

    struct SpawnError: Error, CustomStringConvertible {
        let program: String
        let errno: Int32
        var description: String { "cannot start \(program): \(String(cString: strerror(errno)))" }
    }

    /// Reaps the child if it has ended (never blocks).
    var isRunning: Bool {
        ended.withLock { ended in
            guard ended == nil else { return false }
            var status: Int32 = 0
            guard waitpid(processIdentifier, &status, WNOHANG) == processIdentifier else { return true }
            ended = status
            return false
        }
    }

    /// How it ended and its exit status (or signal), once it has.
    var termination: (reason: TerminationReason, status: Int32)? {
        guard !isRunning, let status = ended.withLock({ $0 }) else { return nil }
        return (status & 0x7f) == 0 ? (.exit, (status >> 8) & 0xff) : (.uncaughtSignal, status & 0x7f)
    }

    func signal(_ signal: Int32) {
        // Never to a reaped pid: it may belong to another process by now.
        if isRunning { _ = kill(processIdentifier, signal) }
    }

    /// Waits for the end; nil if it still runs after `timeout`.
    func waitForExit(timeout: Duration) async throws -> (reason: TerminationReason, status: Int32)? {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(50))
        }
        return termination
    }

    /// SIGKILL, then reaped (blocking for the moment it takes the kernel).
    func forceStop() {
        ended.withLock { ended in
            guard ended == nil else { return }
            kill(processIdentifier, SIGKILL)
            var status: Int32 = 0
            while waitpid(processIdentifier, &status, 0) == -1, errno == EINTR {}
            ended = status
        }
    }
}
