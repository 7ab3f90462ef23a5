import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Asks for a secret on an interactive terminal: a prompt on standard error, and the typed line
/// not echoed (as `getpass` does), so a command never waits silently for standard input.
enum SecretPrompt {
    /// The terminal's settings from before echo went off, for the signal handler to put back.
    /// Unsafe is safe here: written once before the handler is installed, then only read.
    fileprivate nonisolated(unsafe) static var saved = termios()

    /// One line typed on the terminal, without its newline; nil when standard input is not a
    /// terminal (a pipe or file is read as it is).
    /// - Throws: `ValidationError` when the line is not UTF-8 text.
    static func readLineFromTerminal(prompt: String) throws -> String? {
        guard isatty(STDIN_FILENO) == 1, tcgetattr(STDIN_FILENO, &saved) == 0 else { return nil }
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        // Echo goes off before the prompt shows, so nothing typed after it is ever echoed; an
        // interrupt puts the terminal back before the process ends.
        signal(SIGINT, restoreAndReraise)
        signal(SIGTERM, restoreAndReraise)
        _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        FileHandle.standardError.write(Data(prompt.utf8))
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let got = read(STDIN_FILENO, &byte, 1)
            if got < 0, errno == EINTR { continue }
            if got <= 0 || byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard let text = String(validating: line, as: UTF8.self) else {
            throw ValidationError("the value must be UTF-8 text")
        }
        return text
    }
}

/// Puts the terminal's echo back, then dies of the signal as it would have.
private func restoreAndReraise(_ signalNumber: Int32) {
    _ = tcsetattr(STDIN_FILENO, TCSANOW, &SecretPrompt.saved)
    signal(signalNumber, SIG_DFL)
    raise(signalNumber)
}
