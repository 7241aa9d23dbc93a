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
    /// Unmaps every page of the binary's (and any other private file mapping's) that
    /// can be read back unchanged from its file, and returns freed heap to the kernel.
    /// Pages the process has written (data, RELRO after relocation) stay. Does nothing
    /// while another thread runs: a page it wrote during a drop would be lost.
    public static func releaseUnneeded() {
        guard (try? Files.list("/proc/self/task"))?.count == 1 else { return }
        malloc_trim(0)
        guard let maps = try? Files.readString("/proc/self/maps") else { return }
        let pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard pagemap >= 0 else { return }
        defer { close(pagemap) }
        // Code last: whatever runs after a drop faults its pages back in, 64 KiB at a time.
        let mappings = FileMapping.parse(maps).filter(\.isPrivateFileView)
        for mapping in mappings.filter({ !$0.isExecutable }) + mappings.filter(\.isExecutable) {
            _ = releaseFilePages(from: mapping.start, to: mapping.end, pagemap: pagemap)
        }
    }

    /// Drops the unmodified file pages of the private file mapping [start, end); returns
    /// how many pages the dropped ranges span, or nil when pagemap could not be read.
    static func releaseFilePages(from start: UInt, to end: UInt, pagemap: Int32) -> Int? {
        let pages = isorun_release_file_pages(pagemap, start, end)
        return pages < 0 ? nil : pages
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
