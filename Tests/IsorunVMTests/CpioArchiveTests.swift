import Glibc
import IsorunCore
import IsorunSys
import Testing
@testable import IsorunVM

/// Reads a newc archive back, the way the kernel's initramfs unpacker walks it.
struct CpioReader {
    struct Entry: Equatable {
        var name: String
        var mode: UInt32
        var data: [UInt8]
    }

    static func entries(_ bytes: [UInt8]) -> [Entry]? {
        var result: [Entry] = []
        var offset = 0
        func field(_ index: Int) -> UInt32? {
            let start = offset + 6 + index * 8
            return UInt32(String(decoding: bytes[start..<start + 8], as: UTF8.self), radix: 16)
        }
        func aligned(_ value: Int) -> Int { (value + 3) & ~3 }
        while offset + 110 <= bytes.count {
            guard String(decoding: bytes[offset..<offset + 6], as: UTF8.self) == "070701",
                  let mode = field(1), let size = field(6), let nameSize = field(11) else { return nil }
            let nameStart = offset + 110
            let name = String(decoding: bytes[nameStart..<nameStart + Int(nameSize) - 1], as: UTF8.self)
            let dataStart = aligned(nameStart + Int(nameSize))
            if name == "TRAILER!!!" { return result }
            result.append(Entry(name: name, mode: mode, data: Array(bytes[dataStart..<dataStart + Int(size)])))
            offset = aligned(dataStart + Int(size))
        }
        return nil
    }
}

struct CpioArchiveTests {
    @Test func archivesATreeWithFilesLinksAndFifos() throws {
        let root = try scratchDirectory("cpio")
        defer { try? Files.removeTree(root) }
        try Files.makeDirectories("\(root)/tree/bin")
        try Files.write("\(root)/tree/bin/hello", "#!/bin/sh\necho hi\n", create: true)
        #expect(symlink("hello", "\(root)/tree/bin/hi") == 0)
        try Files.makeFifo("\(root)/tree/hold.fifo")
        try Files.write("\(root)/init", "INIT", create: true)

        let output = try OutputFile(creating: "\(root)/out.cpio")
        var archive = CpioArchive(writingTo: output)
        try archive.addTree(at: "\(root)/tree", entries: try FileTree.walk("\(root)/tree"))
        try archive.addDirectory(".isorun")
        try archive.addFile(".isorun/init", from: "\(root)/init", mode: 0o755)
        try archive.finish()
        try output.close()

        let bytes = try Files.read("\(root)/out.cpio")
        #expect(bytes.count % 512 == 0)
        let entries = try #require(CpioReader.entries(bytes))
        #expect(entries.map(\.name) == ["bin", "bin/hello", "bin/hi", "hold.fifo", ".isorun", ".isorun/init"])
        #expect(entries[1].data == Array("#!/bin/sh\necho hi\n".utf8))
        #expect(entries[2].mode & 0o170000 == 0o120000)
        #expect(entries[2].data == Array("hello".utf8))
        #expect(entries[3].mode & 0o170000 == 0o010000)
        #expect(entries[5].mode == 0o100755)
        #expect(entries[5].data == Array("INIT".utf8))
    }

    @Test func cacheKeyChangesWithAnyInput() {
        var first = CacheKey(), second = CacheKey(), third = CacheKey()
        first.add("bin/sh 100")
        second.add("bin/sh 101")
        third.add("bin/sh 100")
        #expect(first.hex != second.hex)
        #expect(first.hex == third.hex)
        #expect(first.hex.count == 16)
    }
}
