import Glibc
import IsorunCore
import IsorunGuestProtocol
import IsorunSpec
import IsorunSys

/// `isorun exec` into a running VM container: connects to the VM owner's exec socket,
/// describes the process, then copies isorun's stdin to it, its stdout and stderr back,
/// and isorun's signals to it, until the guest reports its status.
///
/// With a `terminal` (the replica of a pseudo-terminal whose master went to the console
/// socket), the guest gives the process a terminal of its own: the replica is made raw
/// and carries both directions, and a resize (SIGWINCH) is passed on as a new size.
public enum VMExecClient {
    /// The process's status in shell form (128+N for signal N).
    public static func run(_ process: IsorunSpec.Process, containerDirectory: String,
                           terminal: Int32? = nil) throws(IsorunError) -> Int32 {
        let path = VMExecService.socketPath(stateDirectory: containerDirectory)
        let socket: UnixSocket
        do { socket = try UnixSocket(connectingTo: path) } catch {
            throw IsorunError("exec: the VM does not take exec requests (is its process running?)", error)
        }
        let rawMode = terminal.flatMap(RawTerminalMode.init)
        defer { rawMode?.restore() }
        var request: [GuestMessage] = (process.args ?? []).map { .execArgument(id: 0, $0) }
        request += (process.env ?? []).map { .execEnvironment(id: 0, $0) }
        request.append(.execWorkingDirectory(id: 0, process.cwd))
        request.append(.execUser(id: 0, uid: process.user?.uid ?? 0, gid: process.user?.gid ?? 0))
        if terminal != nil {
            let size = GuestTerminalSize.of(process, host: rawMode)
            request.append(.execTerminal(id: 0, rows: size.rows, columns: size.columns))
        }
        request.append(.execStart(id: 0))
        try send(request, on: socket)
        return try relay(socket, input: terminal ?? 0, outputs: terminal.map { [1: $0, 2: $0] } ?? [1: 1, 2: 2],
                         terminal: rawMode)
    }

    /// Copies streams and signals until the guest reports the status.
    private static func relay(_ socket: UnixSocket, input source: Int32, outputs: [Int32: Int32],
                              terminal: RawTerminalMode?) throws(IsorunError) -> Int32 {
        let signals = try ForwardedSignals.install()
        defer { ForwardedSignals.uninstall(signals) }
        StreamCopy.setNonBlocking(socket.descriptor)
        var lines = LineBuffer()
        var input: Int32? = source
        while true {
            let ready: [Int32]
            do { ready = try Polling.waitReadable([socket.descriptor, signals] + (input.map { [$0] } ?? [])) } catch {
                throw IsorunError("exec", error)
            }
            if ready.contains(socket.descriptor) {
                let (bytes, atEnd) = Polling.drainReportingEnd(socket.descriptor)
                for message in lines.append(bytes).compactMap({ GuestMessage(line: $0) }) {
                    switch message {
                    case .execOutput(_, let stream, let output):
                        do { try StreamCopy.writeAll(outputs[stream] ?? 1, output) } catch {
                            throw IsorunError("exec: copy output", error)
                        }
                    case .execExit(_, let status):
                        return status
                    case .execError(_, let text):
                        throw IsorunError("exec in the guest: \(text)")
                    default:
                        continue
                    }
                }
                if atEnd { throw IsorunError("exec: the VM ended before the process reported its status") }
            }
            if ready.contains(signals) {
                var messages: [GuestMessage] = []
                for signal in Polling.drain(signals).map(Int32.init) {
                    if signal == SIGWINCH, let size = terminal?.windowSize {
                        messages.append(.execTerminal(id: 0, rows: size.rows, columns: size.columns))
                    } else {
                        messages.append(.execSignal(id: 0, signal))
                    }
                }
                try send(messages, on: socket)
            }
            if let fd = input, ready.contains(fd) {
                if let bytes = StreamCopy.readOnce(fd) {
                    try send([.execInput(id: 0, bytes)], on: socket)
                } else {
                    try send([.execInputEnd(id: 0)], on: socket)
                    input = nil
                }
            }
        }
    }

    private static func send(_ messages: [GuestMessage], on socket: UnixSocket) throws(IsorunError) {
        guard !messages.isEmpty else { return }
        do { try UnixSocket.sendAll(socket.descriptor, Array(messages.map(\.line).joined().utf8)) } catch {
            throw IsorunError("exec: the VM's exec socket", error)
        }
    }
}
