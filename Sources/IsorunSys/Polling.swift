import CIsorunShim
import Glibc

/// poll(2) over a few descriptors, retried on EINTR.
public enum Polling {
    /// Waits until one of `fds` is readable (or hung up) or `timeoutMilliseconds` pass
    /// (-1: forever); returns the readable ones.
    public static func waitReadable(_ fds: [Int32], timeoutMilliseconds: Int32 = -1) throws(SystemError) -> [Int32] {
        var entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let count = retryingOnInterrupt { poll(&entries, nfds_t(entries.count), timeoutMilliseconds) }
        guard count >= 0 else { throw SystemError("poll") }
        return entries.filter { $0.revents != 0 }.map(\.fd)
    }

    /// Reads whatever bytes are waiting on a non-blocking descriptor.
    public static func drain(_ fd: Int32) -> [UInt8] {
        drainReportingEnd(fd).bytes
    }

    /// Reads whatever is waiting, and whether the descriptor reached end of file
    /// (for a FIFO: no writer is left).
    public static func drainReportingEnd(_ fd: Int32) -> (bytes: [UInt8], atEnd: Bool) {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in retryingOnInterrupt { read(fd, raw.baseAddress, raw.count) } }
            if count > 0 {
                result += chunk[0..<count]
                continue
            }
            return (result, count == 0)
        }
    }
}

/// Monotonic time for progress and timing output.
public enum MonotonicClock {
    public static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// A poll timeout that ends at `deadline` (rounded up to whole milliseconds), or nil
    /// once it has passed. One clock read: a deadline checked and then subtracted from
    /// with a second read could pass in between, and the unsigned difference would trap.
    public static func millisecondsLeft(until deadline: UInt64) -> Int32? {
        let now = nanoseconds()
        guard now < deadline else { return nil }
        return Int32(min((deadline - now) / 1_000_000 + 1, UInt64(Int32.max)))
    }
}

/// Moves bytes between descriptors that may be non-blocking.
public enum StreamCopy {
    /// Writes all of `bytes`, waiting when `fd` is a full non-blocking pipe or terminal.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        try transferAll(fd, bytes, call: "write") { write($0, $1, $2) }
    }

    /// All of `bytes` through `transfer` (write or send), waiting while `fd` is full.
    static func transferAll(_ fd: Int32, _ bytes: [UInt8], call: String,
                            _ transfer: (Int32, UnsafeRawPointer?, Int) -> Int) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { raw in retryingOnInterrupt { transfer(fd, raw.baseAddress, raw.count) } }
            if written > 0 {
                offset += written
            } else if errno == EAGAIN {
                var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = retryingOnInterrupt { poll(&entry, 1, -1) }
            } else {
                throw SystemError(call, "fd \(fd)")
            }
        }
    }

    /// Reads once what is waiting on a descriptor that poll() reported readable (so that
    /// a blocking one, such as a caller's stdin, does not block): nil at end of file or error.
    public static func readOnce(_ fd: Int32) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { raw in retryingOnInterrupt { read(fd, raw.baseAddress, raw.count) } }
        return count > 0 ? Array(chunk[0..<count]) : nil
    }

    public static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// Opens a FIFO's read end without waiting for a writer.
    public static func openFifoForReading(_ path: String) throws(SystemError) -> Int32 {
        let fd = retryingOnInterrupt { open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else { throw SystemError("open", path) }
        return fd
    }
}

extension StreamCopy {
    /// Opens a FIFO read-write and non-blocking: the open never waits for the other
    /// side, and the FIFO never reports EOF while this descriptor is open.
    public static func openFifoReadWrite(_ path: String) throws(SystemError) -> Int32 {
        let fd = retryingOnInterrupt { open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else { throw SystemError("open", path) }
        return fd
    }

    /// Makes a FIFO (replacing a stale one) and opens it read-write: a gate or answer
    /// channel that another process opens later, without either side blocking.
    public static func makeFifoReadWrite(_ path: String) throws(SystemError) -> Int32 {
        try Files.makeFifo(path)
        return try openFifoReadWrite(path)
    }

    /// Opens a FIFO's write end without waiting: fails with ENXIO when nobody reads it.
    public static func openFifoForWriting(_ path: String) throws(SystemError) -> Int32 {
        let fd = retryingOnInterrupt { open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else { throw SystemError("open", path) }
        return fd
    }

    public static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }
}

/// Facts about isorun's own process and host that callers above IsorunSys need.
public enum HostProcess {
    /// Takes back what the shim set in the environment for the Swift runtime's start
    /// (runtime_settings.c); called before anything reads or passes on the environment.
    public static func restoreEnvironmentAfterRuntimeStart() { isorun_runtime_settings_restore() }

    /// isorun's environment, as "NAME=value" strings.
    public static func environment() -> [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }

    public static func variable(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) != 0 }

    /// Where `program` is on isorun's PATH, or nil.
    public static func executableOnPath(_ program: String) -> String? {
        (variable("PATH") ?? "/usr/bin:/bin").split(separator: ":").lazy
            .map { "\($0)/\(program)" }.first { access($0, X_OK) == 0 }
    }

    public static var onlineCPUs: Int { max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1) }

    public static var id: pid_t { getpid() }

    /// True when isorun runs as a user other than root, or as root of a user namespace other
    /// than the host's (podman's rootless mode starts its runtime so): "rootless", as runc
    /// says. It may create cgroups only where one is delegated to it, and other namespaces
    /// only inside a user namespace it owns. Worked out once (a read of uid_map as root).
    public static let isRootless: Bool = geteuid() != 0 || inChildUserNamespace

    /// The host's user namespace maps every id onto itself; any other maps fewer.
    static var inChildUserNamespace: Bool {
        guard let map = try? Files.readString("/proc/self/uid_map") else { return false }
        return map.split(whereSeparator: { $0 == " " || $0 == "\n" }) != ["0", "0", "4294967295"]
    }

    public static var userID: uid_t { geteuid() }
    public static var groupID: gid_t { getegid() }

    /// The running kernel's release (`uname -r`).
    public static var kernelRelease: String {
        var name = utsname()
        guard uname(&name) == 0 else { return "" }
        return withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Whether `path` (a device such as /dev/kvm) opens read-write.
    public static func canOpenReadWrite(_ path: String) -> Bool {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        if fd >= 0 { _ = Glibc.close(fd) }
        return fd >= 0
    }
}

extension StreamCopy {
    /// A pipe with both ends close-on-exec; the read end is non-blocking.
    public static func makePipe() throws(SystemError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw SystemError("pipe") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(ends[0], F_SETFL, O_NONBLOCK)
        return (ends[0], ends[1])
    }

    /// Waits until `fd` has produced a newline or reached EOF, or the deadline
    /// (monotonic nanoseconds) passes; returns what was read.
    public static func readLine(_ fd: Int32, deadline: UInt64) -> String? {
        var bytes: [UInt8] = []
        while let remaining = MonotonicClock.millisecondsLeft(until: deadline) {
            guard (try? Polling.waitReadable([fd], timeoutMilliseconds: remaining))?.isEmpty == false else { continue }
            let (chunk, atEnd) = Polling.drainReportingEnd(fd)
            bytes += chunk
            if bytes.contains(0x0a) || atEnd { return String(decoding: bytes, as: UTF8.self) }
        }
        return nil
    }
}

/// /proc/meminfo, for what a benchmark costs the host.
public enum HostMemory {
    /// MemTotal - MemAvailable in KiB: memory the host cannot hand out right now.
    public static func usedKiB() -> Int? {
        guard let text = try? Files.readString("/proc/meminfo") else { return nil }
        var values: [Substring: Int] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let value = Int(fields[1]) { values[fields[0]] = value }
        }
        guard let total = values["MemTotal:"], let available = values["MemAvailable:"] else { return nil }
        return total - available
    }

    /// Proportional set size of one process in KiB (shared pages split among sharers).
    public static func proportionalKiB(of pid: pid_t) -> Int? {
        guard let text = try? Files.readString("/proc/\(pid)/smaps_rollup") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Pss:") {
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }

    /// The direct children of `pid` (from /proc/<pid>/task/*/children).
    public static func children(of pid: pid_t) -> [pid_t] {
        guard let text = try? Files.readString("/proc/\(pid)/task/\(pid)/children") else { return [] }
        return text.split(separator: " ").compactMap { pid_t($0.filter { !$0.isWhitespace }) }
    }
}

/// Wall-clock time for state files, without Foundation's formatter or glibc's gmtime
/// (both read the time zone database on first use: an open and a read on every `create`).
public enum WallClock {
    /// Now, as RFC 3339 in UTC with nanoseconds: 2026-12-01T11:12:43.424521699Z.
    public static func rfc3339() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return rfc3339(seconds: Int64(now.tv_sec), nanoseconds: Int(now.tv_nsec))
    }

    /// `seconds` since the epoch (and `nanoseconds`) as RFC 3339 in UTC.
    static func rfc3339(seconds: Int64, nanoseconds: Int) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        func padded(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(Int(year), 4))-\(padded(month, 2))-\(padded(day, 2))"
            + "T\(padded(secondOfDay / 3600, 2)):\(padded(secondOfDay / 60 % 60, 2)):\(padded(secondOfDay % 60, 2))."
            + padded(nanoseconds, 9) + "Z"
    }

    /// The proleptic Gregorian date `days` after 1970-01-01, counted in 400-year eras
    /// (146 097 days each) that start on 1 March, so the leap day falls at an era's end.
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = days + 719_468                                     // days since 0000-03-01
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097                           // 0...146096
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // from 1 March
        let monthFromMarch = (5 * dayOfYear + 2) / 153                   // 0 = March ... 11 = February
        let day = Int(dayOfYear - (153 * monthFromMarch + 2) / 5 + 1)
        let month = Int(monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
