import Glibc
import IsorunCore
import IsorunGuestProtocol
import IsorunSys

/// A minimal QMP client: QEMU's JSON monitor protocol over the VM's UNIX socket.
/// Commands are sent one at a time and their one-line replies matched by key.
final class QmpClient {
    private let socket: UnixSocket
    private var lines = LineBuffer()

    /// Connects and leaves capabilities negotiation mode (QMP's required first step).
    init(socketPath: String, timeoutMilliseconds: Int32 = 1000) throws(SystemError) {
        socket = try UnixSocket(connectingTo: socketPath)
        _ = try nextReply(containing: "\"QMP\"", timeoutMilliseconds: timeoutMilliseconds)
        _ = try execute("qmp_capabilities", timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Runs a command (`arguments`: a JSON object); returns QEMU's reply line, or nil if
    /// none came in time.
    @discardableResult
    func execute(_ command: String, arguments: String? = nil, timeoutMilliseconds: Int32 = 1000) throws(SystemError) -> String? {
        try socket.send("{\"execute\":\"\(command)\"\(arguments.map { ",\"arguments\":\($0)" } ?? "")}\n")
        return try nextReply(containing: "\"return\"", orError: true, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// The integer after `"key":` in a reply, e.g. `base-memory` in query-memory-size-summary's.
    static func integer(_ key: String, in reply: String) -> Int64? {
        guard let range = reply.firstRange(of: "\"\(key)\":") else { return nil }
        return Int64(reply[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber })
    }

    /// The guest's run state ("running", "paused", "shutdown", ...).
    func status() throws(SystemError) -> String? {
        guard let reply = try execute("query-status") else { return nil }
        // {"return": {"status": "running", ...}}: the string token after the "status" key.
        let tokens = reply.split(separator: "\"", omittingEmptySubsequences: false)
        guard let key = tokens.firstIndex(of: "status"), key + 2 < tokens.count else { return nil }
        return String(tokens[key + 2])
    }

    private func nextReply(containing marker: String, orError: Bool = false,
                           timeoutMilliseconds: Int32) throws(SystemError) -> String? {
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
        while let remaining = MonotonicClock.millisecondsLeft(until: deadline) {
            let bytes = try socket.receive(timeoutMilliseconds: remaining)
            if bytes.isEmpty { return nil }
            for line in lines.append(bytes) {
                // Asynchronous events ({"event": ...}) may come in between; skip them.
                if line.contains(marker) || (orError && line.contains("\"error\"")) { return String(line) }
            }
        }
        return nil
    }
}

/// Stops a QEMU that is still running: QMP `quit`, then SIGTERM, then SIGKILL,
/// each after a grace period.
enum VMMShutdown {
    static let graceMilliseconds: Int32 = 1000

    static func stop(_ pid: pid_t, qmpSocket: String) {
        if let client = try? QmpClient(socketPath: qmpSocket, timeoutMilliseconds: 200) {
            _ = try? client.execute("quit", timeoutMilliseconds: 200)
            if waitForExit(pid, milliseconds: graceMilliseconds) { return }
        }
        Processes.signal(pid, SIGTERM)
        if waitForExit(pid, milliseconds: graceMilliseconds) { return }
        Log.warning("QEMU (pid \(pid)) ignored SIGTERM: killing it")
        Processes.signal(pid, SIGKILL)
        _ = waitForExit(pid, milliseconds: -1)
    }

    /// Reaps `pid` if it exits within the time; true when it did.
    static func waitForExit(_ pid: pid_t, milliseconds: Int32) -> Bool {
        guard let pidFD = try? Processes.openPidFD(pid) else { return true }
        defer { close(pidFD) }
        _ = try? Polling.waitReadable([pidFD], timeoutMilliseconds: milliseconds)
        return (try? Processes.reapIfExited(pid)).flatMap { $0 } != nil
    }
}
