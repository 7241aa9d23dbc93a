import Glibc
import IsorunSys

/// Runs a short-lived program of the host (newuidmap, say) and waits for it: its status
/// and what it wrote on stderr, for a one-line error. stdin and stdout are /dev/null.
public enum HostCommand {
    public static func run(_ arguments: [String]) -> (status: Int32, complaint: String) {
        var plan = SpawnPlan(arguments: arguments, environment: HostProcess.environment())
        plan.searchPath = HostProcess.variable("PATH") ?? ProcessSettings.defaultSearchPath
        plan.nullStdio = true
        let pipe: (read: Int32, write: Int32)
        do { pipe = try StreamCopy.makePipe() } catch { return (125, "\(error)") }
        defer { StreamCopy.close(pipe.read) }
        plan.stderrDescriptor = pipe.write
        let termination: Termination
        do {
            let child: PendingChild
            do { child = try Spawner.start(plan) } catch {
                StreamCopy.close(pipe.write)
                throw error
            }
            StreamCopy.close(pipe.write)  // the child's copy is the only writer now
            try child.release()
            termination = try Processes.wait(child.pid)
        } catch {
            return (125, "\(error)")
        }
        let complaint = String(decoding: Polling.drain(pipe.read), as: UTF8.self)
        return (termination.shellStatus, complaint.split(whereSeparator: \.isNewline).joined(separator: "; "))
    }
}
