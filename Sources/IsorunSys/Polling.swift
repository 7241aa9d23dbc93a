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
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in retryingOnInterrupt { read(fd, raw.baseAddress, raw.count) } }
            guard count > 0 else { return result }
            result += chunk[0..<count]
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
}
