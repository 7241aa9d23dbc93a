import Glibc
import IsorunCore
import IsorunSys

/// The workspaces (`TemporaryDirectory`) of bench runs that were killed before they could
/// remove them: the next bench run removes them. A container still listed in a runtime
/// root inside (runc's state, or isorun's from a `create` the run had not deleted yet) is
/// deleted by that runtime first, so its processes and cgroups go too.
enum AbandonedWorkspaces {
    static let prefix = "isorun-bench-"

    /// The bench process that made the workspace named `name` (`isorun-bench-<pid>-<n>`);
    /// nil for any other name.
    static func owner(of name: String) -> pid_t? {
        guard name.hasPrefix(prefix) else { return nil }
        let parts = name.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let pid = pid_t(parts[0]), pid > 0, UInt32(parts[1]) != nil else { return nil }
        return pid
    }

    /// Removes the workspaces in `directory` whose bench process is gone. `isorun` deletes
    /// isorun's containers; runc's are deleted by the runc on PATH.
    static func sweep(in directory: String = "/tmp", isorun: String) {
        // Only isorun itself: another program linking this (a test runner) is not a runtime.
        guard isorun.hasSuffix("/isorun") else { return }
        for name in (try? Files.list(directory)) ?? [] {
            guard let pid = owner(of: name), pid != HostProcess.id, !Processes.isAlive(pid) else { continue }
            let workspace = "\(directory)/\(name)"
            for entry in (try? Files.list(workspace)) ?? [] where entry.hasSuffix("-root") || entry.hasSuffix("-state") {
                deleteContainers(under: "\(workspace)/\(entry)", runtime: entry.hasPrefix("runc") ? "runc" : isorun)
            }
            try? Files.removeTree(workspace)
        }
    }

    private static func deleteContainers(under root: String, runtime: String) {
        let listed = HostCommand.output(of: [runtime, "--root", root, "list", "-q"])
        guard listed.status == 0 else { return }
        for id in listed.output.split(separator: "\n") {
            _ = HostCommand.run([runtime, "--root", root, "delete", "--force", String(id)])
        }
    }
}
