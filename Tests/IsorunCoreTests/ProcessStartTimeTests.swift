import Glibc
import IsorunSys
import Testing

/// `state`, `start` and `delete` tell a container's process from a later one with the same
/// pid by its start time, read from /proc/pid/stat; a zombie counts as ended.
struct ProcessStartTimeTests {
    /// Field 22 of /proc/pid/stat found the plain way: split after the command name.
    static func startTimeBySplitting(_ pid: pid_t) throws -> UInt64 {
        let stat = try Files.readString("/proc/\(pid)/stat")
        let afterName = try #require(stat.lastIndex(of: ")"))
        let fields = stat[stat.index(after: afterName)...].split(separator: " ")
        return try #require(UInt64(fields[19]))
    }

    /// A `sleep 30` child whose command name has spaces and a ")" of its own, as a
    /// container's process may have (the name is its executable's file name).
    /// Each call has a directory of its own: the tests run in parallel, and one call's
    /// `rmdir` must not remove a directory another call is about to use.
    static func spawnSleeper(named name: String) throws -> pid_t {
        var template = Array("/tmp/isorun-start-time-XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        let executable = "\(directory)/\(name)"
        #expect(symlink("/bin/sleep", executable) == 0)
        defer { unlink(executable); rmdir(directory) }
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup(executable), strdup("30"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&pid, executable, nil, nil, &argv, environ) == 0)
        return pid
    }

    @Test func aRunningProcessHasTheStartTimeTheKernelReports() throws {
        let ownStart = try #require(Processes.startTime(of: getpid()))
        #expect(ownStart == (try Self.startTimeBySplitting(getpid())))
        #expect(Processes.runningStartTime(of: getpid()) == ownStart)

        let pid = try Self.spawnSleeper(named: "odd ) (name")
        defer { kill(pid, SIGKILL); waitpid(pid, nil, 0) }
        #expect((try Files.readString("/proc/\(pid)/stat")).contains("(odd ) (name)"))
        #expect(Processes.runningStartTime(of: pid) == (try Self.startTimeBySplitting(pid)))
    }

    @Test func aZombieHasEndedAndAMissingProcessHasNoStartTime() throws {
        let pid = try Self.spawnSleeper(named: "short-lived")
        kill(pid, SIGKILL)
        var info = siginfo_t()
        // Wait for the exit without reaping, so the pid stays a zombie.
        #expect(waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == 0)
        #expect(Processes.startTime(of: pid) != nil)
        #expect(Processes.runningStartTime(of: pid) == nil)
        waitpid(pid, nil, 0)
        #expect(Processes.startTime(of: pid) == nil)
        #expect(Processes.runningStartTime(of: pid) == nil)
    }
}
