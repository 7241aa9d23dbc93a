import Glibc

/// A file's cached pages, read back in 2 MiB folios.
///
/// When the page cache holds a program's code in PMD-sized folios and its text segment is
/// 2 MiB aligned, the kernel maps its code 2 MiB at a time: a start of isorun takes ~5 page
/// faults in its code instead of ~70 (this host, `/proc/<pid>/smaps` FilePmdMapped), ~0.17 ms
/// of a sandbox run. What a linker, `cp` or ordinary readahead leaves behind is small folios,
/// and a cached file drifts back to them under memory pressure. `make release` does this for
/// isorun (scripts/release/cache-in-huge-folios.py); a benchmark does it for every program
/// it times, so that none of them is timed with whatever its cache happened to hold.
/// The script is not a leftover twin: a process cannot do this for a file it maps itself
/// (the kernel drops no page that is mapped), and isorun's own binary is such a file for
/// isorun. So `make release` and Benchmarks/startup/run.sh prime isorun from outside.
public enum PageCache {
    /// MADV_POPULATE_READ (Linux 5.14), which Debian 12's headers lack.
    private static let populateRead: Int32 = 22

    /// Drops `path`'s clean cached pages and faults them back in through a mapping marked
    /// MADV_HUGEPAGE, whose readahead allocates PMD-sized folios where the filesystem has
    /// large folios (ext4 since Linux 6.16, xfs, tmpfs); elsewhere the file is only read
    /// again. Best effort: pages a running process maps stay as they are.
    public static func reloadInHugeFolios(_ path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError("fstat", path) }
        let size = Int(info.st_size)
        guard size > 0 else { return }
        _ = fsync(fd)  // dirty pages cannot be dropped
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        guard let view = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), view != MAP_FAILED else {
            throw SystemError("mmap", path)
        }
        defer { munmap(view, size) }
        _ = madvise(view, size, MADV_HUGEPAGE)
        guard madvise(view, size, populateRead) == 0 else { throw SystemError("madvise(MADV_POPULATE_READ)", path) }
    }
}
