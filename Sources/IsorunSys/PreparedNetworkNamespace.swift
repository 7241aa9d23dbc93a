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

    /// The namespace's descriptor, once the helper has made it (waits for it).
    public func descriptor() throws(SystemError) -> Int32 {
        if outcome == nil {
            let result = isorun_network_namespace_finish(preparation)
            outcome = result >= 0 ? .success(result) : .failure(SystemError("prepare network namespace", errno: -result))
        }
        return try outcome!.get()
    }

    /// Waits for the helper, reaps it and closes the descriptor, which frees the namespace
    /// unless a process has joined it.
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
