import IsorunCore
import IsorunSpec
import IsorunSys

/// Keystrokes for a guest process with a terminal (`process.terminal`): isorun's stdin
/// (the console's replica for a VM container, or the user's terminal) copied into the
/// FIFO that feeds the guest's stdin port. The guest's own pseudo-terminal echoes, edits
/// lines and turns ^C into SIGINT, so a terminal here is switched to raw mode meanwhile.
final class TerminalInput {
    /// Base path of the FIFO pair QEMU's `pipe` chardev opens (`.in` is read by QEMU).
    let base: String
    private let source: Int32
    private let toGuest: Int32
    private let unused: Int32
    private var reading = true
    /// isorun's terminal in raw mode, or nil when stdin is no terminal.
    let terminal: RawTerminalMode?

    init(base: String, source: Int32) throws(IsorunError) {
        self.base = base
        self.source = source
        do {
            try Files.makeFifo("\(base).in")
            try Files.makeFifo("\(base).out")
            toGuest = try StreamCopy.openFifoReadWrite("\(base).in")
            unused = try StreamCopy.openFifoReadWrite("\(base).out")
        } catch { throw IsorunError("terminal input", error) }
        terminal = RawTerminalMode(source)
    }

    deinit {
        terminal?.restore()
        StreamCopy.close(toGuest)
        StreamCopy.close(unused)
    }

    /// isorun's stdin, while it has not ended.
    var descriptor: Int32? { reading ? source : nil }

    /// Copies what was typed; stops at end of input.
    func pump() {
        guard reading else { return }
        guard let bytes = StreamCopy.readOnce(source) else {
            reading = false
            return
        }
        do { try StreamCopy.writeAll(toGuest, bytes) } catch { reading = false }
    }

    /// Gives the terminal its settings back (also when the run ends by error).
    func restore() { terminal?.restore() }
}

/// The size a guest terminal starts with: the host terminal's when it has one set (the
/// user's, or a console's replica), else the process's `consoleSize` (0: the default).
enum GuestTerminalSize {
    static func of(_ process: IsorunSpec.Process, host: RawTerminalMode?) -> (rows: UInt16, columns: UInt16) {
        if let size = host?.windowSize, size.rows > 0 { return size }
        return (UInt16(clamping: process.consoleSize?.height ?? 0), UInt16(clamping: process.consoleSize?.width ?? 0))
    }
}

/// stdin typed at isorun's terminal for a guest process without `process.terminal`. The
/// terminal is left as it is, so its own echo and line editing work, and each line (or the
/// end of input, ^D on an empty line) goes to isorun-init over the control channel; there
/// a pipe is the process's stdin. Neither of QEMU's ways would do: its stdio backend makes
/// the terminal raw, and a FIFO backend never tells the guest that input has ended.
final class TypedInput {
    private var reading = true

    /// isorun's stdin, while it has not ended.
    var descriptor: Int32? { reading ? 0 : nil }

    /// Passes on what was typed; at the end of input, says so.
    func pump(to control: ControlChannel) {
        guard reading else { return }
        do {
            if let bytes = StreamCopy.readOnce(0) {
                try control.send([.input(bytes)])
            } else {
                reading = false
                try control.send([.inputEnd])
            }
        } catch {
            reading = false
            Log.warning("could not pass typed input to the guest: \(error)")
        }
    }
}
