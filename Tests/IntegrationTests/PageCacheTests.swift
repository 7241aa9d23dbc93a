import Glibc
import IsorunSys
import Testing

/// Whether this kernel caches ext4 files in large folios and may map them with PMDs.
enum LargeFolios {
    static var available: Bool {
        guard let mode = try? Files.readString("/sys/kernel/mm/transparent_hugepage/enabled"), !mode.contains("[never]") else {
            return false
        }
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        return parts.count == 2 && (parts[0], parts[1]) >= (6, 16)
    }
}

/// The benchmark's page cache reload against the kernel: a file cached in small folios
/// afterwards maps 2 MiB at a time (`/proc/self/smaps` FilePmdMapped).
@Suite(.enabled(if: LargeFolios.available, "needs transparent huge pages and Linux 6.16 or later (ext4's large folios)"))
struct PageCacheTests {
    static let megabyte = 1 << 20

    /// KiB of the mapping at `address` that the kernel maps with PMD entries.
    func pmdMappedKiB(at address: UnsafeMutableRawPointer) throws -> Int {
        let start = String(UInt(bitPattern: address), radix: 16)
        var inMapping = false
        for line in try Files.readString("/proc/self/smaps").split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), line[..<dash].allSatisfy(\.isHexDigit) {
                inMapping = line[..<dash].drop { $0 == "0" } == start[...]
            } else if inMapping, line.hasPrefix("FilePmdMapped:") {
                return Int(line.split(separator: " ")[1]) ?? 0
            }
        }
        return 0
    }

    /// Maps `path`'s first 4 MiB at a 2 MiB-aligned address, reads a byte of each 2 MiB,
    /// and returns how much of it is PMD-mapped.
    func pmdMappedAfterReading(_ path: String) throws -> Int {
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let reserved = try #require(mmap(nil, 6 * Self.megabyte, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        try #require(reserved != MAP_FAILED)
        defer { munmap(reserved, 6 * Self.megabyte) }
        let aligned = UnsafeMutableRawPointer(bitPattern: (UInt(bitPattern: reserved) + UInt(2 * Self.megabyte - 1)) & ~UInt(2 * Self.megabyte - 1))!
        let mapped = try #require(mmap(aligned, 4 * Self.megabyte, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0))
        try #require(mapped == aligned)
        let bytes = mapped.assumingMemoryBound(to: UInt8.self)
        #expect(bytes[0] == 1 && bytes[2 * Self.megabyte] == 3)
        return try pmdMappedKiB(at: mapped)
    }

    @Test func aReloadedFileMapsTwoMegabytesAtATime() throws {
        let path = "/tmp/isorun-page-cache-\(getpid())"
        defer { unlink(path) }
        try Files.write(path, bytes: (0..<8).flatMap { [UInt8](repeating: UInt8($0 + 1), count: Self.megabyte) }, create: true)
        // Cached as ordinary readahead leaves a file: small folios, mapped a page at a time.
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        _ = fsync(fd)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        var buffer = [UInt8](repeating: 0, count: Self.megabyte)
        while read(fd, &buffer, buffer.count) > 0 {}
        close(fd)
        try #require(try pmdMappedAfterReading(path) == 0, "ordinary readahead already made PMD-sized folios")

        try PageCache.reloadInHugeFolios(path)
        #expect(try pmdMappedAfterReading(path) == 4096)
        #expect(throws: SystemError.self) { try PageCache.reloadInHugeFolios(path + "-missing") }
    }
}
