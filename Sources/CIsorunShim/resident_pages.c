// Drops the pages of a private file mapping that can be read back from the file.
// Lives in C because the check (pagemap) and the drop (madvise) must not have Swift
// code between them: the Swift runtime writes into the binary's data pages when it
// initializes metadata lazily, and a page written in that window would be dropped.
#include "isorun_shim.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGEMAP_PRESENT (UINT64_C(1) << 63)
#define PAGEMAP_SWAPPED (UINT64_C(1) << 62)
#define PAGEMAP_FILE (UINT64_C(1) << 61)

/// A page may go when it is the file's own page, or when nothing backs it yet.
/// A present page that is not a file page is a private copy (written to); a swapped
/// page is a private copy too. Dropping either would lose data.
static int droppable(uint64_t entry) {
    if (entry & PAGEMAP_PRESENT) return (entry & PAGEMAP_FILE) != 0;
    return (entry & PAGEMAP_SWAPPED) == 0;
}

long isorun_release_file_pages(int pagemap_fd, uintptr_t start, uintptr_t end) {
    const long page = sysconf(_SC_PAGESIZE);
    uint64_t entries[512];
    long dropped = 0;
    uintptr_t run_start = 0;
    for (uintptr_t address = start; address < end;) {
        size_t count = (end - address) / (uintptr_t)page;
        if (count > sizeof entries / sizeof entries[0]) count = sizeof entries / sizeof entries[0];
        off_t offset = (off_t)(address / (uintptr_t)page * sizeof(uint64_t));
        ssize_t got = pread(pagemap_fd, entries, count * sizeof(uint64_t), offset);
        if (got <= 0) return got < 0 ? -errno : dropped;
        count = (size_t)got / sizeof(uint64_t);
        for (size_t i = 0; i < count; i++, address += (uintptr_t)page) {
            if (droppable(entries[i])) {
                if (!run_start) run_start = address;
                continue;
            }
            if (run_start && madvise((void *)run_start, address - run_start, MADV_DONTNEED) == 0)
                dropped += (long)((address - run_start) / (uintptr_t)page);
            run_start = 0;
        }
    }
    if (run_start && madvise((void *)run_start, end - run_start, MADV_DONTNEED) == 0)
        dropped += (long)((end - run_start) / (uintptr_t)page);
    return dropped;
}
