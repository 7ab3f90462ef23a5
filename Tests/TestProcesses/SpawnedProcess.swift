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
/// child starts with no signal blocked and with none of the test process's descriptors but the
/// three it is given: a child that kept a copy of another test's pipe would hold that test's read
/// open until it ended (a whole CI run once stalled for a minute on that).
public final class SpawnedProcess: Sendable {
    /// How a child ended.
    public enum TerminationReason: Sendable, Equatable {
        case exit
        case uncaughtSignal
    }

    /// Where standard input comes from.
    public enum Input {
        case null
        case file(String)
        /// A descriptor the child gets a copy of (such as a pseudo-terminal).
        case descriptor(Int32)
    }

    /// Where standard output or standard error goes.
    public enum Output {
        case null
        /// A descriptor the child gets a copy of.
        case descriptor(Int32)
        /// A file, created 0600 or truncated.
        case file(String)
    }

    public let processIdentifier: pid_t
    public let arguments: [String]
    /// The raw `waitpid` status once reaped.
    private let ended = Mutex<Int32?>(nil)

    /// Starts `program` (a path) with `arguments` and exactly `environment`.
    public init(
        program: String,
        arguments: [String],
        environment: [String: String],
        standardInput: Input = .null,
        standardOutput: Output,
        standardError: Output
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        switch standardInput {
        case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .file(let path): posix_spawn_file_actions_addopen(&actions, 0, path, O_RDONLY, 0)
        case .descriptor(let source): posix_spawn_file_actions_adddup2(&actions, source, 0)
        }
        for (descriptor, output) in [(Int32(1), standardOutput), (2, standardError)] {
            switch output {
            case .null: posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0)
            case .descriptor(let source): posix_spawn_file_actions_adddup2(&actions, source, descriptor)
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, descriptor, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK)
        #if canImport(Darwin)
        flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        #else
        guard let closeFrom = Self.addCloseFrom else { throw SpawnError(program: "closefrom", errno: ENOSYS) }
        let closing = closeFrom(&actions, 3)
        guard closing == 0 else { throw SpawnError(program: program, errno: closing) }
        #endif
        posix_spawnattr_setflags(&attributes, Int16(flags))

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

    #if !canImport(Darwin)
    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
    /// module does not declare: looked up by name.
    private static let addCloseFrom:
        (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
            else { return nil }
            return unsafeBitCast(
                symbol,
                to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self
            )
        }()
    #endif

    public struct SpawnError: Error, CustomStringConvertible {
        public let program: String
        public let errno: Int32
        public var description: String { "cannot start \(program): \(String(cString: strerror(errno)))" }
    }

    /// Reaps the child if it has ended (never blocks).
    public var isRunning: Bool {
        ended.withLock { ended in
            guard ended == nil else { return false }
            var status: Int32 = 0
            guard waitpid(processIdentifier, &status, WNOHANG) == processIdentifier else { return true }
            ended = status
            return false
        }
    }

    /// How it ended and its exit status (or signal), once it has.
    public var termination: (reason: TerminationReason, status: Int32)? {
        guard !isRunning, let status = ended.withLock({ $0 }) else { return nil }
        return (status & 0x7f) == 0 ? (.exit, (status >> 8) & 0xff) : (.uncaughtSignal, status & 0x7f)
    }

    /// The exit status, or 128 + the signal, as a shell reports it; nil while it runs.
    public var shellStatus: Int32? {
        termination.map { $0.reason == .exit ? $0.status : 128 + $0.status }
    }

    public func signal(_ signal: Int32) {
        // Never to a reaped pid: it may belong to another process by now.
        if isRunning { _ = kill(processIdentifier, signal) }
    }

    /// Waits for the end without holding a thread; nil if it still runs after `timeout`.
    public func waitForExit(timeout: Duration) async throws -> (reason: TerminationReason, status: Int32)? {
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(2)
        while isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
        return termination
    }

    /// SIGKILL, then reaped (blocking for the moment it takes the kernel).
    public func forceStop() {
        ended.withLock { ended in
            guard ended == nil else { return }
            kill(processIdentifier, SIGKILL)
            var status: Int32 = 0
            while waitpid(processIdentifier, &status, 0) == -1, errno == EINTR {}
            ended = status
        }
    }
}
