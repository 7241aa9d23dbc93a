import Glibc
import IsorunSys
import Testing
@testable import IsorunBench

/// `density` stops its instances with SIGTERM and reports any that did not exit 0, with
/// the last line each wrote on stderr, instead of leaving a reader to guess from leftovers.
struct InstanceStopTests {
    static let clean = ["sh", "-c", "trap 'exit 0' TERM; echo up; sleep 600 & wait"]
    static let complaining = ["sh", "-c", "trap 'echo first >&2; echo going down >&2; exit 3' TERM; echo up; sleep 600 & wait"]
    // SIGUSR1: a signal death that dumps no core.
    static let dying = ["sh", "-c", "trap 'kill -USR1 $$' TERM; echo up; sleep 600 & wait"]

    @Test func uncleanEndingsAreNamedWithTheirLastWords() throws {
        var logs: [Int32] = []
        var instances: [(pid: pid_t, output: Int32)] = []
        defer { logs.forEach(StreamCopy.close) }
        for command in [Self.clean, Self.complaining, Self.dying] {
            logs.append(try Files.memoryFile(named: "stderr", contents: []))
            let instance = try DensityScenario.start(command, stderr: logs[logs.count - 1])
            instances.append(instance)
            #expect(StreamCopy.readLine(instance.output, deadline: MonotonicClock.nanoseconds() + 10_000_000_000) == "up\n")
        }
        let outcome = DensityScenario.stop(instances, stderrLogs: logs)
        #expect(outcome.killed.isEmpty)
        #expect(outcome.otherEndings == ["1: exit status 3 (going down)", "2: signal \(SIGUSR1)"])
    }

    /// A child is looked at without being reaped, so its pid stays ours until `stop` reaps
    /// it; once reaped, `stop` leaves the pid alone (it may name someone else by then).
    @Test func endedInstancesKeepTheirPidUntilStopReapsThem() throws {
        let instance = try DensityScenario.start(["sh", "-c", "echo up; exec sleep 600"])
        #expect(StreamCopy.readLine(instance.output, deadline: MonotonicClock.nanoseconds() + 10_000_000_000) == "up\n")
        #expect(Processes.peek(instance.pid) == .running)
        Processes.signal(instance.pid, SIGKILL)
        let deadline = MonotonicClock.nanoseconds() + 10_000_000_000
        while Processes.peek(instance.pid) == .running, MonotonicClock.nanoseconds() < deadline { usleep(1000) }
        #expect(Processes.peek(instance.pid) == .exited)
        #expect(Processes.peek(instance.pid) == .exited, "peeking twice must not reap")
        let outcome = DensityScenario.stop([instance])
        #expect(outcome.otherEndings == ["0: signal \(SIGKILL)"])
        #expect(Processes.peek(instance.pid) == .notOurs)
        // A second stop finds nothing of its own to signal or reap.
        let again = DensityScenario.stop([(instance.pid, try Files.memoryFile(named: "unused", contents: []))])
        #expect(again.killed.isEmpty && again.otherEndings.isEmpty)
    }
}
