import CIsorunShim
import Glibc
import IsorunSys

/// Owns one run from start to end: state, signal forwarding, waiting, cleanup.
///
/// There is exactly one owner of the workload's process (this type), it reaps it,
/// and cleanup runs on every path that returns. A SIGKILL of isorun itself is
/// covered by the workload's parent-death signal and by the next run's sweep.
public struct Supervisor {
    /// How long a workload runs before its supervisor gives back the pages that starting
    /// it needed. Short runs (a `/bin/true`) end first and keep them for their cleanup.
    static let idleTrimDelayMilliseconds: Int32 = 250

    public let root: RuntimeRoot

    public init(root: RuntimeRoot) {
        self.root = root
    }

    /// Runs the request to completion and returns how the workload ended. With
    /// `keepingState` (a container made by `create`) the state directory outlives a
    /// launched workload, for `state` and `delete`; it is removed only if launch fails.
    public func run(_ request: RunRequest, with launcher: any Launcher, keepingState: Bool = false) throws(IsorunError) -> Termination {
        root.sweepLeftovers()
        let state = try root.createRun(id: request.id, mode: launcher.mode, withDirectory: launcher.needsStateDirectory)
        var launched = false
        defer {
            if !launched { state.undoRecorded() }
            if !launched || !keepingState { state.remove() }
        }

        let signalPipe = try ForwardedSignals.install()
        defer { ForwardedSignals.uninstall(signalPipe) }

        let workload = try launcher.launch(request, state: state)
        launched = true
        let hooks = request.bundle.config.hooks
        defer {
            workload.cleanUp()
            LifecycleHooks.runWarningOnFailure(hooks?.poststop, phase: "poststop",
                                               state: request.hookState(pid: nil, status: .stopped))
        }
        try workload.waitUntilProcessRuns()
        do {
            try LifecycleHooks.run(hooks?.poststart, phase: "poststart", state: request.hookState(pid: workload.pid, status: .running))
        } catch {
            // runtime-spec 1.3 (as runc): a failed poststart hook is an error that stops the
            // container; the deferred cleanup then destroys it and runs the poststop hooks.
            workload.deliver(signal: SIGKILL)
            throw IsorunError("\(error.message); the container was stopped")
        }
        request.whenStarted?()
        return try wait(for: workload, signalPipe: signalPipe)
    }

    /// Waits for a workload started elsewhere (`exec`), forwarding isorun's signals to it.
    public func attach(to workload: any Workload) throws(IsorunError) -> Termination {
        let signalPipe = try ForwardedSignals.install()
        defer { ForwardedSignals.uninstall(signalPipe) }
        defer { workload.cleanUp() }
        return try wait(for: workload, signalPipe: signalPipe)
    }

    private func wait(for workload: any Workload, signalPipe: Int32) throws(IsorunError) -> Termination {
        let pidFD: Int32
        do { pidFD = try Processes.openPidFD(workload.pid) } catch { throw IsorunError("supervise workload", error) }
        defer { close(pidFD) }
        var emulatedSignal: Int32?
        var trimPending = true
        while true {
            let descriptors = [pidFD, signalPipe] + workload.relayedDescriptors
            var ready: [Int32]
            do {
                ready = try Polling.waitReadable(descriptors, timeoutMilliseconds: trimPending ? Self.idleTrimDelayMilliseconds : -1)
                if ready.isEmpty {
                    trimPending = false
                    Log.debug("workload still running after \(Self.idleTrimDelayMilliseconds) ms: resident set \(ResidentPages.residentKiB()) KiB; dropping what can be read back")
                    guard let woken = try ResidentPages.releaseUnneededThenWait(for: descriptors) else { continue }
                    ready = woken
                }
            } catch {
                throw IsorunError("supervise workload", error)
            }
            for descriptor in workload.relayedDescriptors where ready.contains(descriptor) { workload.relay(from: descriptor) }
            if ready.contains(signalPipe) {
                for signal in Polling.drain(signalPipe).map(Int32.init) {
                    if let emulated = forward(signal, to: workload) { emulatedSignal = emulated }
                }
            }
            if ready.contains(pidFD) {
                let ended: Termination?
                do { ended = try Processes.reapIfExited(workload.pid) } catch { throw IsorunError("supervise workload", error) }
                guard let ended else { continue }
                var termination = try workload.workloadTermination(from: ended)
                if let emulatedSignal, termination == .signaled(SIGKILL) { termination = .signaled(emulatedSignal) }
                return termination
            }
        }
    }

    /// Delivers `signal`; returns it when its default action had to be emulated.
    ///
    /// PID 1 of a namespace ignores signals it has no handler for, so Ctrl-C would do
    /// nothing to a plain `sleep` in the sandbox. A user expects the container to stop,
    /// with 128+N as if the signal had been delivered; so for a terminating signal the
    /// workload does not catch, isorun kills it and reports that signal.
    func forward(_ signal: Int32, to workload: any Workload) -> Int32? {
        let terminatesByDefault = signal != SIGWINCH
        if workload.isNamespaceInit, terminatesByDefault,
           let caught = Processes.caughtSignals(of: workload.pid),
           caught & (UInt64(1) << UInt64(signal - 1)) == 0 {
            Log.debug("workload is PID 1 and does not handle signal \(signal): stopping it")
            workload.deliver(signal: SIGKILL)
            return signal
        }
        workload.deliver(signal: signal)
        return nil
    }
}

/// The signals a user sends to "the container" by sending them to isorun, caught and
/// written as bytes to a pipe, for the loop that forwards them.
public enum ForwardedSignals {
    static let numbers: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]

    /// The pipe's read end.
    public static func install() throws(IsorunError) -> Int32 {
        let signalPipe = isorun_signal_pipe_install(numbers, Int32(numbers.count))
        guard signalPipe >= 0 else { throw IsorunError("signal handlers", SystemError("sigaction", errno: -signalPipe)) }
        return signalPipe
    }

    /// Restores the default actions and closes the pipe.
    public static func uninstall(_ signalPipe: Int32) {
        isorun_signal_pipe_uninstall(numbers, Int32(numbers.count))
        close(signalPipe)
    }
}
