import IsorunSys

/// Runs a command to completion with its stdio on /dev/null and returns how long it
/// took from just before clone to just after it was reaped.
enum CommandTimer {
    struct Failure: Error, CustomStringConvertible {
        var command: [String]
        var reason: String
        var description: String { "\(command.joined(separator: " ")): \(reason)" }
    }

    /// `extraEnvironment` entries ("NAME=value") override the inherited ones.
    static func time(_ command: [String], expectedStatus: Int32 = 0, extraEnvironment: [String] = []) throws(Failure) -> UInt64 {
        let overridden = Set(extraEnvironment.map { $0.prefix { $0 != "=" } })
        let environment = HostProcess.environment().filter { !overridden.contains($0.prefix { $0 != "=" }) } + extraEnvironment
        var plan = SpawnPlan(arguments: command, environment: environment)
        plan.searchPath = HostProcess.variable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        plan.nullStdio = true
        plan.newSession = true
        // Cloned vfork-style, as hyperfine's own runs are: a fork of this (large, long-lived)
        // process copied its page tables and then paid copy-on-write faults, ~0.5 ms added
        // to every command timed, which weighed most on the fastest.
        plan.parentStepsBeforeRelease = false
        let started = MonotonicClock.nanoseconds()
        let termination: Termination
        do {
            let child = try Spawner.start(plan)
            try child.release()
            termination = try Processes.wait(child.pid)
        } catch {
            throw Failure(command: command, reason: "\(error)")
        }
        let elapsed = MonotonicClock.nanoseconds() - started
        guard termination.shellStatus == expectedStatus else {
            throw Failure(command: command, reason: "exited \(termination.shellStatus), expected \(expectedStatus)")
        }
        return elapsed
    }
}

/// "name 3/30, 1.2 s" on a terminal, rewritten in place; nothing when stderr is not one.
struct Progress {
    let enabled = HostProcess.isTerminal(2)
    let started = MonotonicClock.nanoseconds()

    func show(_ text: String) {
        guard enabled else { return }
        let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
        let line = "\r\u{1b}[2K[\(format(seconds)) s] \(text)"
        try? StreamCopy.writeAll(2, Array(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        try? StreamCopy.writeAll(2, Array("\r\u{1b}[2K".utf8))
    }
}
