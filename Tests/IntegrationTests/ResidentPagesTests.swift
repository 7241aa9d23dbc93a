import Glibc
@testable import IsorunSys
import Testing

/// The supervisor's page release against the kernel: clean file pages go, pages the
/// process wrote stay, and every byte reads the same afterwards.
struct ResidentPagesTests {
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Whether the page at `address` is mapped in this process (pagemap bit 63).
    func isPresent(_ address: UnsafeMutableRawPointer, pagemap: Int32) -> Bool {
        var entry: UInt64 = 0
        let offset = off_t(UInt(bitPattern: address) / UInt(Self.pageSize) * 8)
        #expect(pread(pagemap, &entry, 8, offset) == 8)
        return entry & (1 << 63) != 0
    }

    @Test func dropsCleanFilePagesAndKeepsWrittenOnes() throws {
        let path = "/tmp/isorun-resident-pages-\(getpid())"
        defer { unlink(path) }
        let contents = (0..<4).flatMap { page in [UInt8](repeating: UInt8(ascii: "A") + UInt8(page), count: Self.pageSize) }
        try Files.write(path, bytes: contents, create: true)
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        let length = 4 * Self.pageSize
        let mapped = try #require(mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0))
        #expect(mapped != MAP_FAILED)
        defer { munmap(mapped, length) }
        let bytes = mapped.assumingMemoryBound(to: UInt8.self)
        bytes[Self.pageSize] = UInt8(ascii: "x")                       // page 1: a private copy
        #expect(bytes[0] == UInt8(ascii: "A") && bytes[2 * Self.pageSize] == UInt8(ascii: "C"))  // pages 0, 2: file pages
        let pagemap = open("/proc/self/pagemap", O_RDONLY)
        #expect(pagemap >= 0)
        defer { close(pagemap) }
        let start = UInt(bitPattern: mapped)
        #expect(isPresent(mapped, pagemap: pagemap))

        // The wait that follows the drop ends at once: the pipe already holds a byte.
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        #expect(write(ends[1], "x", 1) == 1)

        let result = try ResidentPages.releaseFilePages([start..<start + UInt(length)], thenWaitFor: [ends[0]],
                                                         pagemap: pagemap)

        #expect(result?.ready == [ends[0]])
        #expect(result?.dropped == 3)                                  // pages 0, 2 and 3 (never touched)
        #expect(!isPresent(mapped, pagemap: pagemap))
        #expect(isPresent(mapped + Self.pageSize, pagemap: pagemap))
        #expect(bytes[0] == UInt8(ascii: "A"))
        #expect(bytes[Self.pageSize] == UInt8(ascii: "x"))
        #expect(bytes[Self.pageSize + 1] == UInt8(ascii: "B"))
        #expect(bytes[2 * Self.pageSize] == UInt8(ascii: "C"))
        #expect(bytes[3 * Self.pageSize] == UInt8(ascii: "D"))
    }

    @Test func readsPrivateFileMappingsFromMaps() {
        let maps = """
            00400000-011fa000 r-xp 00000000 fe:00 5408128                            /usr/bin/isorun
            0125a000-014ce000 rw-p 00e59000 fe:00 5408128                            /usr/bin/isorun
            014ce000-01566000 rw-p 00000000 00:00 0
            7f0000000000-7f0000001000 rw-s 00000000 00:05 77                         /dev/shm/with space
            7ffe61e28000-7ffe61e49000 rw-p 00000000 00:00 0                          [stack]
            """
        let mappings = FileMapping.parse(maps)
        #expect(mappings.count == 5)
        #expect(mappings.map(\.isPrivateFileView) == [true, true, false, false, false])
        #expect(mappings[0].isExecutable && !mappings[1].isExecutable)
        #expect(mappings[0].start == 0x400000 && mappings[0].end == 0x11fa000)
        #expect(mappings[3].path == "/dev/shm/with space")
    }
}
