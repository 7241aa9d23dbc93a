import CIsorunShim
import Glibc

/// Gives back the memory a long-waiting supervisor no longer needs.
///
/// isorun is one static binary: argument parsing, config reading, seccomp compiling and
/// cgroup set-up fault in ~7–10 MiB of its code and data, which then stay counted in the
/// supervisor's resident set for as long as the workload runs, although waiting needs a
/// few pages. Unmapping them costs nothing lasting: the pages stay in the page cache,
/// shared with every other isorun, and the few needed again fault back in.
public enum ResidentPages {
    /// Unmaps every page of the binary's (and any other private file mapping's) that can
    /// be read back unchanged from its file, returns freed heap to the kernel, then waits
    /// until one of `fds` is readable and returns those. Pages the process has written
    /// (data, RELRO after relocation) stay. Returns nil, having done neither, while
    /// another thread runs (a page it wrote during a drop would be lost) or when /proc
    /// cannot be read; the caller then waits itself.
    ///
    /// The wait starts without returning to Swift: on kernels that map a large page-cache
    /// folio whole on a fault (6.18 and later), the first pages of the binary touched
    /// after the drop would bring back up to 2 MiB each. Only the shim's own page runs
    /// until something happens.
    public static func releaseUnneededThenWait(for fds: [Int32]) throws(SystemError) -> [Int32]? {
        guard (try? Files.list("/proc/self/task"))?.count == 1 else { return nil }
        malloc_trim(0)
        guard let maps = try? Files.readString("/proc/self/maps") else { return nil }
        let pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard pagemap >= 0 else { return nil }
        defer { close(pagemap) }
        let ranges = FileMapping.parse(maps).filter(\.isPrivateFileView).map { $0.start..<$0.end }
        return try releaseFilePages(ranges, thenWaitFor: fds, pagemap: pagemap)?.ready
    }

    /// Drops the unmodified file pages of the private file mappings `ranges`, then waits
    /// for `fds`; returns how many pages the dropped runs spanned and the readable
    /// descriptors, or nil when pagemap could not be read (nothing dropped).
    static func releaseFilePages(_ ranges: [Range<UInt>], thenWaitFor fds: [Int32],
                                 pagemap: Int32) throws(SystemError) -> (dropped: Int, ready: [Int32])? {
        let pageRanges = ranges.map { isorun_page_range(start: $0.lowerBound, end: $0.upperBound) }
        var entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var dropped = 0
        let count = isorun_release_file_pages_and_wait(pagemap, pageRanges, Int32(pageRanges.count), &entries,
                                                       UInt32(entries.count), &dropped)
        guard dropped >= 0 else { return nil }
        guard count >= 0 else { throw SystemError("ppoll", errno: Int32(-count)) }
        return (dropped, entries.filter { $0.revents != 0 }.map(\.fd))
    }

    /// VmRSS from /proc/self/statm (resident pages, second field); 0 when unreadable.
    public static func residentKiB() -> Int {
        guard let statm = try? Files.readString("/proc/self/statm") else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    }
}

/// One line of /proc/self/maps, as far as `ResidentPages` needs it.
struct FileMapping: Equatable {
    var start: UInt
    var end: UInt
    /// The `rwxp`/`rwxs` column.
    var permissions: Substring
    /// The mapped file; empty for anonymous memory, `[name]` for the kernel's own.
    var path: Substring

    /// A private mapping of a file: the kernel can re-read what was not written.
    var isPrivateFileView: Bool { path.hasPrefix("/") && permissions.hasSuffix("p") }
    var isExecutable: Bool { permissions.contains("x") }

    /// Reads "start-end perms offset dev inode path" lines; others are skipped.
    static func parse(_ maps: String) -> [FileMapping] {
        var mappings: [FileMapping] = []
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            let range = fields.first?.split(separator: "-") ?? []
            guard range.count == 2, fields.count >= 5,
                  let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16) else { continue }
            let path = fields.count == 6 ? fields[5].drop(while: { $0 == " " }) : ""
            mappings.append(FileMapping(start: start, end: end, permissions: fields[1], path: path))
        }
        return mappings
    }
}
