import IsorunSpec
import IsorunSys

extension PseudoTerminal {
    /// A pseudo-terminal for a process that asks for one (`process.terminal`), its master
    /// already sent to the console socket; runc's rule: a terminal needs a socket to go to.
    ///
    /// `relayed`: the replica only carries bytes to a terminal elsewhere (a VM's), so it is
    /// raw from the start, before anyone can type into it.
    /// `root`: a container's /proc/<pid>/root, whose devpts the pair then comes from (the
    /// host's when the container has no /dev/ptmx).
    public static func forProcess(_ process: IsorunSpec.Process?, source: String, consoleSocket: String?,
                                  relayed: Bool = false, root: String? = nil) throws(IsorunError) -> PseudoTerminal? {
        guard process?.terminal == true else {
            if consoleSocket != nil {
                throw IsorunError("--console-socket: \(source) does not ask for a terminal (process.terminal is not true)")
            }
            return nil
        }
        guard let consoleSocket else {
            throw IsorunError("\(source): process.terminal: a terminal needs --console-socket to send it to")
        }
        let size = process?.consoleSize
        do {
            let rows = UInt16(clamping: size?.height ?? 0), columns = UInt16(clamping: size?.width ?? 0)
            let terminal: PseudoTerminal
            do { terminal = try PseudoTerminal(rows: rows, columns: columns, root: root) } catch where root != nil && error.isNoSuchFile {
                terminal = try PseudoTerminal(rows: rows, columns: columns)
            }
            if relayed { RawTerminalMode.makeRaw(terminal.replica) }
            try terminal.sendMaster(to: consoleSocket)
            return terminal
        } catch {
            throw IsorunError("--console-socket", error)
        }
    }
}
