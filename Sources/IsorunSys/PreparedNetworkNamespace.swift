import CIsorunShim
import Glibc

/// A new network namespace, with its loopback up, being made on a thread of its own.
///
/// Creating a network namespace is the costliest part of starting a container here
/// (~0.6 ms of kernel work, most of `clone`); begun early, it runs on another CPU while
/// the caller does other work, and the container's first process joins it with setns.
/// The namespace lives as long as the descriptor, which `close()` (or deinit) gives up.
public final class PreparedNetworkNamespace {
    private let preparation: UnsafeMutablePointer<isorun_network_namespace>
    private var outcome: Result<Int32, SystemError>?

    /// Starts the thread; nil when no thread can be started.
    public init?() {
        preparation = .allocate(capacity: 1)
        preparation.initialize(to: isorun_network_namespace())
        guard isorun_network_namespace_start(preparation) == 0 else {
            preparation.deallocate()
            return nil
        }
    }

    /// The namespace's descriptor, once the thread has made it (waits for it).
    public func descriptor() throws(SystemError) -> Int32 {
        if outcome == nil {
            let result = isorun_network_namespace_finish(preparation)
            outcome = result >= 0 ? .success(result) : .failure(SystemError("prepare network namespace", errno: -result))
        }
        return try outcome!.get()
    }

    /// Waits for the thread and closes the descriptor, which frees the namespace unless
    /// a process has joined it.
    public func close() {
        if let fd = try? descriptor() { _ = Glibc.close(fd) }
        outcome = .failure(SystemError("prepare network namespace", errno: EBADF))
    }

    deinit {
        close()
        preparation.deallocate()
    }
}
