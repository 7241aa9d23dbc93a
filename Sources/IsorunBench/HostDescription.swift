import Glibc
import IsorunCgroups
import IsorunSys
import IsorunVM

extension Environment {
    /// Describes this host: kernel, CPUs, cgroup layout, the VM accelerator `auto`
    /// picks, and the versions of the peers a scenario compares against.
    public static func current(workspace: String) -> Environment {
        let cgroups: String
        switch try? CgroupLayout.detect() {
        case .unified?: cgroups = "v2"
        case .legacy(_, let unified?)?: cgroups = "v1/hybrid (v2 tree at \(unified))"
        case .legacy(_, nil)?: cgroups = "v1"
        case nil: cgroups = "unknown"
        }
        let (accelerator, _) = AcceleratorProbe.host().resolve(.auto)
        var peers: [String: String] = [:]
        for (peer, arguments) in [("bwrap", ["--version"]), ("runc", ["--version"]), ("qemu-system-x86_64", ["--version"])] {
            if let version = firstLine(of: [peer] + arguments, workspace: workspace) { peers[peer] = version }
        }
        return Environment(kernel: HostProcess.kernelRelease, cpus: HostProcess.onlineCPUs, cgroups: cgroups,
                           accelerator: accelerator.rawValue, peers: peers)
    }

    /// The first line a command prints, or nil if it cannot run.
    static func firstLine(of command: [String], workspace: String) -> String? {
        // Named per process (two benches may ask at once) and removed once read.
        let output = "\(workspace)/isorun-version-\(command[0])-\(getpid()).txt"
        defer { try? Files.remove(output) }
        let shell = ["sh", "-c", "\"$@\" >\"$OUT\" 2>&1", "sh"] + command
        var plan = SpawnPlan(arguments: shell, environment: HostProcess.environment() + ["OUT=\(output)"])
        plan.searchPath = HostProcess.variable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        guard let child = try? Spawner.start(plan), (try? child.release()) != nil,
              (try? Processes.wait(child.pid)) == .exited(0),
              let text = try? Files.readString(output) else { return nil }
        return text.split(separator: "\n").first.map(String.init)
    }
}
