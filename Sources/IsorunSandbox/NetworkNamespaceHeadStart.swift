import Glibc
import IsorunCore
import IsorunSys

/// The sandbox's network namespace, begun by a helper process before the bundle is read.
///
/// A new network namespace is most of what `clone` costs a container here (0.5–0.7 ms
/// of the kernel's time, against ~0.1 ms for the mount, pid, ipc, uts and cgroup
/// namespaces together). The commands that start a sandbox call `begin()` before reading the bundle
/// (and the shim has usually started the helper already, guessing from argv before the Swift
/// runtime starts); by the time the plan is made the namespace exists, `lo` is up, and the
/// child joins it with setns instead of creating one. It is the same namespace clone would have made: new,
/// empty, owned by isorun's own user namespace.
///
/// Used only where that is so: a config that creates or joins a user namespace needs its
/// network namespace owned by that user namespace, so it is made by clone as before.
/// An unused namespace is closed (and freed) when the launch claims or declines it.
public enum NetworkNamespaceHeadStart {
    nonisolated(unsafe) private static var pending: PreparedNetworkNamespace?

    /// Starts making a network namespace; harmless if nothing claims it: a command that
    /// fails before its launch claims the namespace gives it up (and reaps the helper) at exit.
    public static func begin() {
        // A user other than root can make a network namespace only inside the container's
        // user namespace, so clone makes it.
        guard pending == nil, HostProcess.userID == 0 else { return }
        pending = PreparedNetworkNamespace()
        _ = discardedAtExit
    }

    /// The exit handler, registered by the first `begin()`.
    private static let discardedAtExit: Void = { _ = atexit { NetworkNamespaceHeadStart.discard() } }()

    /// Gives up a prepared namespace nothing will claim (a bundle that runs as a VM).
    public static func discard() {
        pending?.close()
        pending = nil
    }

    /// The namespace being prepared when `namespaces` asks for a new one it may stand in
    /// for (its `descriptor()` waits for it, and may fail); otherwise nil, and a prepared one
    /// is given up.
    static func claim(for namespaces: NamespacePlan) -> PreparedNetworkNamespace? {
        guard let prepared = pending else { return nil }
        pending = nil
        let joinsUserNamespace = namespaces.joins.contains { $0.type == NamespaceFlags.user }
        guard namespaces.createsNetworkNamespace, !namespaces.createsUserNamespace, !joinsUserNamespace else {
            prepared.close()
            return nil
        }
        return prepared
    }
}
