import CIsorunShim
import Glibc

/// A pseudo-terminal pair for a container whose process asks for one
/// (`process.terminal`): the process gets the replica as its controlling terminal and
/// stdio; the master goes to whoever holds the console (containerd, podman) over
/// the `--console-socket`.
public final class PseudoTerminal {
    public private(set) var master: Int32
    public private(set) var replica: Int32
    /// /dev/pts/N on the devpts the pair comes from.
    public let replicaPath: String

    /// Opens a pair; rows and columns of 0 leave the size to the console's owner. With
    /// `root` (a container's /proc/<pid>/root), from the devpts the container sees as
    /// /dev/pts, so that its programs can name their terminal (ttyname) as under runc.
    public init(rows: UInt16, columns: UInt16, root: String? = nil) throws(SystemError) {
        var replica: Int32 = -1
        var path = [CChar](repeating: 0, count: 64)
        let master = isorun_open_pty(root, rows, columns, &replica, &path, path.count)
        guard master >= 0 else {
            let found = root.map { -master == ENXIO ? "\($0)/dev/ptmx (not a pseudo-terminal multiplexer)" : "\($0)/dev/ptmx" }
            throw SystemError("open pseudo-terminal", found ?? "/dev/ptmx", errno: -master)
        }
        self.master = master
        self.replica = replica
        self.replicaPath = path.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Hands the master to the process listening on `socketPath` and closes isorun's copy.
    public func sendMaster(to socketPath: String) throws(SystemError) {
        let socket = try UnixSocket(connectingTo: socketPath)
        try socket.send(descriptor: master, name: replicaPath)
        close(master)
        master = -1
    }

    deinit {
        if master >= 0 { close(master) }
        if replica >= 0 { close(replica) }
    }
}

/// A terminal switched to raw mode (no echo, no line editing, no signals from keys, no
/// output processing) until `restore()`: its bytes pass unchanged to a terminal elsewhere
/// (a guest's), which does all of that itself.
public final class RawTerminalMode {
    private let descriptor: Int32
    private var saved: termios?

    /// Nil when `descriptor` is not a terminal.
    public init?(_ descriptor: Int32) {
        guard let previous = Self.switchToRaw(descriptor) else { return nil }
        self.descriptor = descriptor
        saved = previous
    }

    /// Raw mode for good (nothing to restore: a pseudo-terminal of isorun's own).
    public static func makeRaw(_ descriptor: Int32) {
        _ = switchToRaw(descriptor)
    }

    /// The settings before, or nil when `descriptor` is not a terminal.
    private static func switchToRaw(_ descriptor: Int32) -> termios? {
        var settings = termios()
        guard tcgetattr(descriptor, &settings) == 0 else { return nil }
        let previous = settings
        cfmakeraw(&settings)
        _ = tcsetattr(descriptor, TCSANOW, &settings)
        return previous
    }

    /// The terminal's window size, rows and columns.
    public var windowSize: (rows: UInt16, columns: UInt16)? {
        var rows: UInt16 = 0, columns: UInt16 = 0
        return isorun_window_size(descriptor, &rows, &columns) == 0 ? (rows, columns) : nil
    }

    public func restore() {
        guard var settings = saved else { return }
        _ = tcsetattr(descriptor, TCSANOW, &settings)
        saved = nil
    }

    deinit { restore() }
}
