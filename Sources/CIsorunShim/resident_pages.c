// Drops the pages of private file mappings that can be read back from the file, then
// waits. Lives in C because the check (pagemap) and the drop (madvise) must not have
// Swift code between them: the Swift runtime writes into the binary's data pages when it
// initializes metadata lazily, and a page written in that window would be dropped. And
// because nothing of the binary but one page may run between the drop and the wait.
#include "isorun_shim.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGEMAP_PRESENT (UINT64_C(1) << 63)
#define PAGEMAP_SWAPPED (UINT64_C(1) << 62)
#define PAGEMAP_FILE (UINT64_C(1) << 61)

/// A page may go when it is the file's own page, or when nothing backs it yet.
/// A present page that is not a file page is a private copy (written to); a swapped
/// page is a private copy too. Dropping either would lose data.
static inline __attribute__((always_inline)) int droppable(uint64_t entry) {
    if (entry & PAGEMAP_PRESENT) return (entry & PAGEMAP_FILE) != 0;
    return (entry & PAGEMAP_SWAPPED) == 0;
}

/// A system call made here rather than through libc: libc's wrappers live in pages of the
/// binary that the drop has just unmapped.
static inline __attribute__((always_inline)) long raw_syscall4(long number, long a, long b, long c, long d) {
    long result;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    result = x0;
#else
#error "raw_syscall4: add this architecture's system call convention"
#endif
    return result;
}

/// MADV_DONTNEED over [start, end); the number of pages that spans, or 0 when refused.
static inline __attribute__((always_inline)) long drop_run(uintptr_t start, uintptr_t end, long page) {
    if (raw_syscall4(SYS_madvise, (long)start, (long)(end - start), MADV_DONTNEED, 0) != 0) return 0;
    return (long)((end - start) / (uintptr_t)page);
}

/// Unmaps `entries`' droppable runs of [start, end) and waits in ppoll. Page-aligned and
/// alone in its own mapping (see the caller), so that running it after the drop maps
/// back this one page: on kernels that fault in whole large folios, any other page of
/// the binary would bring back up to 2 MiB of it.
__attribute__((noinline, aligned(4096)))
static long drop_then_wait(const uint64_t *entries, const struct isorun_page_range *ranges, int count,
                           struct pollfd *fds, unsigned nfds, long page, long *dropped) {
    long spanned = 0;
    for (int r = 0; r < count; r++) {
        uintptr_t run_start = 0;
        uintptr_t address = ranges[r].start;
        for (; address < ranges[r].end; address += (uintptr_t)page, entries++) {
            if (droppable(*entries)) {
                if (!run_start) run_start = address;
                continue;
            }
            if (run_start) spanned += drop_run(run_start, address, page);
            run_start = 0;
        }
        if (run_start) spanned += drop_run(run_start, address, page);
    }
    *dropped = spanned;
    long ready;
    do {
        ready = raw_syscall4(SYS_ppoll, (long)fds, (long)nfds, 0, 0);
    } while (ready == -EINTR);
    return ready;
}

long isorun_release_file_pages_and_wait(int pagemap_fd, const struct isorun_page_range *ranges, int count,
                                        struct pollfd *fds, unsigned nfds, long *dropped) {
    const long page = sysconf(_SC_PAGESIZE);
    size_t total = 0;
    for (int r = 0; r < count; r++) total += (ranges[r].end - ranges[r].start) / (uintptr_t)page;
    // Every entry is read before the first drop: pread is one of the pages that go.
    size_t bytes = (total * sizeof(uint64_t) + (size_t)page - 1) & ~((size_t)page - 1);
    if (bytes == 0) bytes = (size_t)page;
    uint64_t *entries = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (entries == MAP_FAILED) {
        *dropped = -1;
        return -errno;
    }
    uint64_t *next = entries;
    for (int r = 0; r < count; r++) {
        size_t want = (ranges[r].end - ranges[r].start) / (uintptr_t)page * sizeof(uint64_t);
        off_t offset = (off_t)(ranges[r].start / (uintptr_t)page * sizeof(uint64_t));
        for (size_t got = 0; got < want;) {
            ssize_t n = pread(pagemap_fd, (char *)next + got, want - got, offset + (off_t)got);
            if (n <= 0) {
                int saved = n < 0 ? errno : EIO;
                munmap(entries, bytes);
                *dropped = -1;
                return -saved;
            }
            got += (size_t)n;
        }
        next += want / sizeof(uint64_t);
    }
    // Its own mapping: a flag no neighbour has splits the code mapping around its page.
    uintptr_t own = (uintptr_t)&drop_then_wait & ~((uintptr_t)page - 1);
    madvise((void *)own, (size_t)page, MADV_NOHUGEPAGE);
    long ready = drop_then_wait(entries, ranges, count, fds, nfds, page, dropped);
    munmap(entries, bytes);
    return ready;
}
