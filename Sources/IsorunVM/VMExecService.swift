import Glibc
import IsorunCore
import IsorunGuestProtocol
import IsorunSys

/// `isorun exec` into a running VM, on the host's side: the VM's owner listens on
/// `exec.sock` in the run's state directory. A client describes its process with the
/// guest protocol's `x-` messages numbered 0; the service gives each connection a number
/// of its own for the guest, forwards what the client sends (the process, its input, its
/// signals) and returns the guest's output and status to that client, numbered 0 again.
final class VMExecService {
    static func socketPath(stateDirectory: String) -> String { "\(stateDirectory)/exec.sock" }

    private struct Client {
        let descriptor: Int32
        var lines = LineBuffer()
    }

    private let listener: UnixListener
    private var clients: [Int: Client] = [:]
    private var nextID = 1

    init(stateDirectory: String) throws(IsorunError) {
        do { listener = try UnixListener(listeningAt: Self.socketPath(stateDirectory: stateDirectory)) } catch {
            throw IsorunError("exec socket", error)
        }
    }

    deinit {
        for client in clients.values { StreamCopy.close(client.descriptor) }
    }

    var descriptors: [Int32] { [listener.descriptor] + clients.values.map(\.descriptor) }

    /// One of `descriptors` is readable: a new client, or what a client sent.
    func serve(_ descriptor: Int32, control: ControlChannel) {
        if descriptor == listener.descriptor {
            while let accepted = listener.accept() {
                clients[nextID] = Client(descriptor: accepted)
                nextID += 1
            }
            return
        }
        guard let id = clients.first(where: { $0.value.descriptor == descriptor })?.key else { return }
        let (bytes, atEnd) = Polling.drainReportingEnd(descriptor)
        let messages = clients[id]!.lines.append(bytes).compactMap { GuestMessage(line: $0) }
        // Only what a client may ask for; its number is the service's to give.
        let forwarded = messages.filter {
            switch $0 {
            case .execArgument, .execEnvironment, .execWorkingDirectory, .execUser, .execTerminal, .execStart, .execInput,
                 .execInputEnd, .execSignal: true
            default: false
            }
        }.map { $0.renumbered(id) }
        do { try control.send(forwarded) } catch { Log.warning("exec \(id): \(error)") }
        if atEnd {
            // The client stands for the process (containerd waits for it): without it the
            // process would run on unseen, so it ends too.
            try? control.send([.execInputEnd(id: id), .execSignal(id: id, SIGKILL)])
            drop(id)
        }
    }

    /// A message from the guest about one of the clients' processes.
    func deliver(_ message: GuestMessage) {
        guard let id = message.execID, let client = clients[id] else { return }
        do { try UnixSocket.sendAll(client.descriptor, Array(message.renumbered(0).line.utf8)) } catch {
            drop(id)
            return
        }
        switch message {
        case .execExit, .execError: drop(id)
        default: break
        }
    }

    private func drop(_ id: Int) {
        guard let client = clients.removeValue(forKey: id) else { return }
        StreamCopy.close(client.descriptor)
    }
}
