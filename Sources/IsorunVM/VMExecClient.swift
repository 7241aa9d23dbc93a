import Glibc
import IsorunCore
import IsorunGuestProtocol
import IsorunSpec
import IsorunSys

/// `isorun exec` into a running VM container: connects to the VM owner's exec socket,
/// describes the process, then copies isorun's stdin to it, its stdout and stderr back,
/// and isorun's signals to it, until the guest reports its status.
public enum VMExecClient {
    /// The process's status in shell form (128+N for signal N).
    public static func run(_ process: IsorunSpec.Process, containerDirectory: String) throws(IsorunError) -> Int32 {
        let path = VMExecService.socketPath(stateDirectory: containerDirectory)
        let socket: UnixSocket
        do { socket = try UnixSocket(connectingTo: path) } catch {
            throw IsorunError("exec: the VM does not take exec requests (is its process running?)", error)
        }
        var request: [GuestMessage] = (process.args ?? []).map { .execArgument(id: 0, $0) }
        request += (process.env ?? []).map { .execEnvironment(id: 0, $0) }
        request.append(.execWorkingDirectory(id: 0, process.cwd ?? "/"))
        request.append(.execUser(id: 0, uid: process.user?.uid ?? 0, gid: process.user?.gid ?? 0))
        request.append(.execStart(id: 0))
        try send(request, on: socket)
        return try relay(socket)
    }

    /// Copies streams and signals until the guest reports the status.
    private static func relay(_ socket: UnixSocket) throws(IsorunError) -> Int32 {

        let signals = try ForwardedSignals.install()
        defer { ForwardedSignals.uninstall(signals) }
        StreamCopy.setNonBlocking(socket.descriptor)
        var lines = LineBuffer()
        var input: Int32? = 0
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
                        do { try StreamCopy.writeAll(stream, output) } catch { throw IsorunError("exec: copy output", error) }
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
                try send(Polling.drain(signals).map { .execSignal(id: 0, Int32($0)) }, on: socket)
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
