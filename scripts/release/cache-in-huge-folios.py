#!/usr/bin/env python3
"""Reloads a binary's page cache in 2 MiB folios, so its code is mapped 2 MiB at a time.

Every isorun command is a new process, and page faults are dear on this kind of host
(~5 us each under nested paging): a start touches ~80 separate 64 KiB windows of code.
When the page cache holds the code in 2 MiB folios and the text segment is 2 MiB
aligned in the file and in memory (isorun's starts at offset 0, address 0x400000), the
kernel maps a whole folio with one page-table entry, and those faults become a handful.

The page cache a linker or `cp` leaves behind is made of small folios. This drops the
file's clean pages and reads them back through a mapping marked MADV_HUGEPAGE, whose
readahead allocates PMD-sized folios (kernels whose filesystem has large folios: ext4
since 6.16, xfs, tmpfs; elsewhere it only rereads the file). Best effort: pages another
process has mapped stay as they are. The effect lasts as long as the page cache does
(a reboot or memory pressure ends it; the next `make release`, or running this again,
restores it).

Usage: cache-in-huge-folios.py FILE...
"""
import mmap
import os
import sys

PAGE = 4096


def reload_in_huge_folios(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return
        os.fsync(fd)  # dirty pages cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        with mmap.mmap(fd, size, prot=mmap.PROT_READ) as view:
            try:
                view.madvise(mmap.MADV_HUGEPAGE)
            except (AttributeError, OSError):
                pass  # no transparent huge pages here: the file is only read back
            for offset in range(0, size, PAGE):
                view[offset]
    finally:
        os.close(fd)


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    # Best effort: a file left as it was only starts a little slower.
    for path in sys.argv[1:]:
        try:
            reload_in_huge_folios(path)
        except OSError as error:
            print(f"cache-in-huge-folios: {path}: {error.strerror} (its page cache is left as it was)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
