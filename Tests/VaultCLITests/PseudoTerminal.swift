import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// glibc's pseudo-terminal calls, which its Swift module does not export (they need
/// `_XOPEN_SOURCE`): looked up by name.
enum PseudoTerminal {
    typealias Open = @convention(c) (Int32) -> Int32
    typealias Name = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32

    struct Functions {
        let open: Open
        let grant: Open
        let unlock: Open
        let name: Name
    }

    static let functions: Functions? = {
        // RTLD_DEFAULT: nil on glibc, -2 on Darwin.
        #if canImport(Darwin)
        let everywhere = UnsafeMutableRawPointer(bitPattern: -2)
        #else
        let everywhere: UnsafeMutableRawPointer? = nil
        #endif
        guard let open = dlsym(everywhere, "posix_openpt"), let grant = dlsym(everywhere, "grantpt"),
            let unlock = dlsym(everywhere, "unlockpt"), let name = dlsym(everywhere, "ptsname_r")
        else { return nil }
        return Functions(
            open: unsafeBitCast(open, to: Open.self),
            grant: unsafeBitCast(grant, to: Open.self),
            unlock: unsafeBitCast(unlock, to: Open.self),
            name: unsafeBitCast(name, to: Name.self)
        )
    }()

    /// A new pseudo-terminal: the master (what a terminal emulator holds) and the slave (the
    /// terminal a program reads).
    static func make() throws -> (master: Int32, slave: Int32) {
        let pty = try #require(functions)
        let master = pty.open(O_RDWR | O_NOCTTY)
        try #require(master >= 0 && pty.grant(master) == 0 && pty.unlock(master) == 0)
        var name = [CChar](repeating: 0, count: 128)
        try #require(pty.name(master, &name, name.count) == 0)
        let slave = open(name, O_RDWR | O_NOCTTY)
        try #require(slave >= 0)
        return (master, slave)
    }
}
