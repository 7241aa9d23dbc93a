import Glibc
import IsorunSys

/// Runs a short-lived program of the host (newuidmap, mkfs.erofs, ps) and waits for it:
/// its status and the last lines it wrote on stderr, for a one-line error. stdin is
/// /dev/null, and stdout too unless the caller keeps it (isorun's stdout belongs to the
/// workload).
public enum HostCommand {
    /// How many of stderr's last lines the complaint keeps.
    static let complaintLines = 3

    public static func run(_ arguments: [String]) -> (status: Int32, complaint: String) {
        let result = run(arguments, keepingOutput: false)
        return (result.status, result.complaint)
    }

    /// As `run`, with what the program wrote on stdout (`ps`'s table).
    public static func output(of arguments: [String]) -> (status: Int32, output: String, complaint: String) {
        run(arguments, keepingOutput: true)
    }

    private static func run(_ arguments: [String], keepingOutput: Bool) -> (status: Int32, output: String, complaint: String) {
        var plan = SpawnPlan(arguments: arguments, environment: HostProcess.environment())
        plan.searchPath = HostProcess.variable("PATH") ?? ProcessSettings.defaultSearchPath
        plan.nullStdio = true
        let errors: (read: Int32, write: Int32)
        do { errors = try StreamCopy.makePipe() } catch { return (125, "", "\(error)") }
        defer { StreamCopy.close(errors.read) }
        var output: (read: Int32, write: Int32)?
        if keepingOutput {
            do { output = try StreamCopy.makePipe() } catch {
                StreamCopy.close(errors.write)
                return (125, "", "\(error)")
            }
        }
        defer { if let output { StreamCopy.close(output.read) } }
        plan.stderrDescriptor = errors.write
        plan.stdoutDescriptor = output?.write
        var stderr: [UInt8] = [], stdout: [UInt8] = []
        let termination: Termination
        do {
            let child: PendingChild
            do { child = try Spawner.start(plan) } catch {
                StreamCopy.close(errors.write)
                if let output { StreamCopy.close(output.write) }
                throw error
            }
            // The child's copies are the only writers now.
            StreamCopy.close(errors.write)
            if let output { StreamCopy.close(output.write) }
            try child.release()
            // Read while it runs: a chatty program would block on a full pipe.
            var open = [errors.read] + (output.map { [$0.read] } ?? [])
            while !open.isEmpty, let ready = try? Polling.waitReadable(open) {
                for descriptor in ready {
                    let (bytes, atEnd) = Polling.drainReportingEnd(descriptor)
                    if descriptor == errors.read { stderr = Array((stderr + bytes).suffix(16 * 1024)) } else { stdout += bytes }
                    if atEnd { open.removeAll { $0 == descriptor } }
                }
            }
            termination = try Processes.wait(child.pid)
        } catch {
            return (125, "", "\(error)")
        }
        let lines = String(decoding: stderr, as: UTF8.self).split(whereSeparator: \.isNewline)
        return (termination.shellStatus, String(decoding: stdout, as: UTF8.self), lines.suffix(complaintLines).joined(separator: "; "))
    }
}
