import CIsorunShim
import Glibc

/// Hands a cgroup device program to the kernel (cgroup v2 controls device access with
/// BPF, not with files). The program comes from the layer that knows the rules.
public enum CgroupDeviceProgram {
    /// Attaches `instructions` (raw BPF, 8 bytes each) to the cgroup v2 `directory`,
    /// replacing the device program isorun attached there before.
    public static func attach(_ instructions: [UInt8], to directory: String) throws(SystemError) {
        let cgroup = retryingOnInterrupt { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard cgroup >= 0 else { throw SystemError("open", directory) }
        defer { close(cgroup) }
        var log = [CChar](repeating: 0, count: 4096)
        let rc = instructions.withUnsafeBytes { program in
            isorun_attach_device_filter(cgroup, program.baseAddress, Int32(instructions.count / 8), &log, log.count)
        }
        guard rc == 0 else {
            let verifier = String(nulTerminated: log).split(separator: "\n").last.map { " (verifier: \($0))" } ?? ""
            throw SystemError("bpf device program", directory + verifier, errno: -rc)
        }
    }
}
