import Glibc
import IsorunSys

/// A workload that prints a marker line as each phase begins (and one when it is done),
/// timed from the host as the lines arrive: what `volume` and `network` measure with.
enum MarkedPhases {
    /// The time between consecutive markers, when the workload printed exactly `markers`
    /// and exited 0 within ten minutes; otherwise why not.
    static func measure(_ command: [String], markers: [String]) -> Result<[UInt64], RunFailure> {
        let started: (pid: pid_t, output: Int32)
        do { started = try DensityScenario.start(command, stderrToStdout: true) } catch {
            return .failure(RunFailure("could not start: \(error)"))
        }
        defer { StreamCopy.close(started.output) }
        var lines = LineTimes()
        let deadline = MonotonicClock.nanoseconds() + 600_000_000_000
        while let remaining = MonotonicClock.millisecondsLeft(until: deadline) {
            _ = try? Polling.waitReadable([started.output], timeoutMilliseconds: remaining)
            let (bytes, atEnd) = Polling.drainReportingEnd(started.output)
            lines.add(bytes, at: MonotonicClock.nanoseconds())
            if atEnd { break }
        }
        if MonotonicClock.millisecondsLeft(until: deadline) == nil { Processes.signal(started.pid, SIGKILL) }
        let status = (try? Processes.wait(started.pid))?.shellStatus ?? -1
        guard status == 0, lines.texts == markers else {
            return .failure(RunFailure("exit \(status): \(lines.texts.last ?? "no output")"))
        }
        return .success(zip(lines.times, lines.times.dropFirst()).map { $1 - $0 })
    }

    /// Per phase in `phases` (indices into each run's durations), the median over the runs.
    static func medians(_ samples: [[UInt64]], phases: Range<Int>) -> [UInt64] {
        phases.map { phase in
            let values = samples.map { $0[phase] }.sorted()
            return values.isEmpty ? 0 : values[values.count / 2]
        }
    }
}

/// Why a scenario's run (or its setup) failed, as the report shows it.
struct RunFailure: Error, CustomStringConvertible {
    var description: String { reason }
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// The lines a workload printed, each with when it arrived.
struct LineTimes {
    private(set) var texts: [String] = []
    private(set) var times: [UInt64] = []
    private var pending: [UInt8] = []

    mutating func add(_ bytes: [UInt8], at time: UInt64) {
        pending += bytes
        while let newline = pending.firstIndex(of: 0x0a) {
            texts.append(String(decoding: pending[..<newline], as: UTF8.self))
            times.append(time)
            pending.removeSubrange(...newline)
        }
    }
}
