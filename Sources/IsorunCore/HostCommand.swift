import Glibc
import IsorunSys

/// Runs a short-lived program of the host (newuidmap, mkfs.erofs) and waits for it: its
/// status and the last lines it wrote on stderr, for a one-line error. stdin and stdout
/// are /dev/null (isorun's stdout belongs to the workload).
public enum HostCommand {
    /// How many of stderr's last lines the complaint keeps.
    static let complaintLines = 3

    public static func run(_ arguments: [String]) -> (status: Int32, complaint: String) {
        var plan = SpawnPlan(arguments: arguments, environment: HostProcess.environment())
        plan.searchPath = HostProcess.variable("PATH") ?? ProcessSettings.defaultSearchPath
        plan.nullStdio = true
        let pipe: (read: Int32, write: Int32)
        do { pipe = try StreamCopy.makePipe() } catch { return (125, "\(error)") }
        defer { StreamCopy.close(pipe.read) }
        plan.stderrDescriptor = pipe.write
        var stderr: [UInt8] = []
        let termination: Termination
        do {
            let child: PendingChild
            do { child = try Spawner.start(plan) } catch {
                StreamCopy.close(pipe.write)
                throw error
            }
            StreamCopy.close(pipe.write)  // the child's copy is the only writer now
            try child.release()
            // Read while it runs: a chatty program would block on a full pipe.
            while (try? Polling.waitReadable([pipe.read])) != nil {
                let (bytes, atEnd) = Polling.drainReportingEnd(pipe.read)
                stderr = Array((stderr + bytes).suffix(16 * 1024))
                if atEnd { break }
            }
            termination = try Processes.wait(child.pid)
        } catch {
            return (125, "\(error)")
        }
        let lines = String(decoding: stderr, as: UTF8.self).split(whereSeparator: \.isNewline)
        return (termination.shellStatus, lines.suffix(complaintLines).joined(separator: "; "))
    }
}
