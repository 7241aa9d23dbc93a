import Glibc
import IsorunCore
import IsorunSpec
import IsorunSys

/// `linux.seccomp.listenerPath`: the agent that a filter's SCMP_ACT_NOTIFY rules hand
/// system calls to. As soon as the child has loaded its filter, isorun connects to the
/// agent's socket and sends one message, the container process state (config-linux.md)
/// with the filter's listener attached (SCM_RIGHTS), then closes the connection. The
/// child goes on meanwhile; its notified calls wait until the agent answers them.
enum SeccompAgent {
    /// The plan's hand-off, when the profile has SCMP_ACT_NOTIFY rules; `state` is the
    /// container's state for the child's pid.
    static func listener(for seccomp: Seccomp?,
                         state: @escaping (pid_t) -> ContainerState) -> ((Int32, pid_t) -> String?)? {
        guard let seccomp, seccomp.notifiesAgent, let path = seccomp.listenerPath else { return nil }
        let metadata = seccomp.listenerMetadata
        return { listener, pid in
            let document = processState(pid: pid, metadata: metadata, state: state(pid))
            do {
                try UnixSocket(connectingTo: path).send(descriptor: listener, name: document)
                return nil
            } catch {
                return "linux.seccomp.listenerPath: \(error)"
            }
        }
    }

    /// The seccomp(2) flags a profile names. TSYNC is left out: the child has one thread,
    /// and the kernel refuses it beside a listener.
    static func flags(of seccomp: Seccomp?) -> UInt32 {
        let names = seccomp?.flags ?? []
        return Seccomp.filterFlags.filter { names.contains($0.name) && $0.name != "SECCOMP_FILTER_FLAG_TSYNC" }
            .reduce(0) { $0 | $1.value }
    }

    /// The container process state: the listener's name, the pid, the metadata and the
    /// container's state.
    static func processState(pid: pid_t, metadata: String?, state: ContainerState) -> String {
        var writer = JSONWriter()
        writer.object { writer in
            writer.key("fds"); writer.strings(["seccompFd"])
            if let metadata { writer.key("metadata"); writer.string(metadata) }
            writer.key("ociVersion"); writer.string(state.ociVersion)
            writer.key("pid"); writer.integer(pid)
            writer.key("state"); state.write(to: &writer)
        }
        return writer.text
    }
}
