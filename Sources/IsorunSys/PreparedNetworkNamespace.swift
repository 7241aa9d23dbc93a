import CIsorunShim
import Glibc

/// A new network namespace, with its loopback up, being made by a helper process.
///
/// Creating a network namespace is the costliest part of starting a container here
/// (~0.6 ms of kernel work, most of `clone`); begun early, it runs on another CPU while
/// the caller does other work, and the container's first process joins it with setns.
/// The namespace lives as long as the descriptor, which `close()` (or deinit) gives up.
public final class PreparedNetworkNamespace {
    private let preparation: UnsafeMutablePointer<isorun_network_namespace>
    private var outcome: Result<Int32, SystemError>?

    /// Takes over the helper the shim started for this command line before the Swift
    /// runtime (early_network_namespace.c), or starts one; nil when no process can be started.
    public init?() {
        preparation = .allocate(capacity: 1)
        preparation.initialize(to: isorun_network_namespace())
        if isorun_early_network_namespace_take(preparation) == 0 { return }
        guard isorun_network_namespace_start(preparation) == 0 else {
            preparation.deallocate()
            return nil
        }
    }

    /// The helper process until `close()` has reaped it (for tests: nothing is left behind).
    public var helper: pid_t? {
        let pid = preparation.pointee.pid
        return pid > 0 ? pid : nil
    }

    /// Gives the helper a cgroup job to carry out once it has made the namespace; it
    /// answers on `socket` (for `CgroupJobHandOff`). False when it cannot be sent (the
    /// helper is gone or dismissed): nothing was asked of it.
    public func send(_ job: CgroupJob) -> Bool {
        let socket = preparation.pointee.socket
        guard socket >= 0, preparation.pointee.pid > 0 else { return false }
        let bytes = job.bytes
        return bytes.withUnsafeBytes { isorun_cgroup_job_send(socket, $0.baseAddress, $0.count) } == 0
    }

    /// isorun's end of the helper's socket until `dismissHelper()` or `close()`.
    public var socket: Int32? {
        let socket = preparation.pointee.socket
        return socket >= 0 ? socket : nil
    }

    /// Lets a helper that has made the namespace exit without a job.
    public func dismissHelper() {
        isorun_network_namespace_dismiss(preparation)
    }

    /// The namespace's descriptor, once the helper has made it (waits for it).
    public func descriptor() throws(SystemError) -> Int32 {
        if outcome == nil {
            let result = isorun_network_namespace_finish(preparation)
            outcome = result >= 0 ? .success(result) : .failure(SystemError("prepare network namespace", errno: -result))
        }
        return try outcome!.get()
    }

    /// Dismisses the helper, reaps it (after any job it was given, so its cgroups are
    /// all made) and closes the descriptor, which frees the namespace unless a process
    /// has joined it.
    public func close() {
        if let fd = try? descriptor() { _ = Glibc.close(fd) }
        isorun_network_namespace_release(preparation)
        outcome = .failure(SystemError("prepare network namespace", errno: EBADF))
    }

    deinit {
        close()
        preparation.deallocate()
    }
}
