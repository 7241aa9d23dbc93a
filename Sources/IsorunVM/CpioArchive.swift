import IsorunSys

/// Writes the "newc" cpio format the kernel unpacks as an initramfs
/// (Documentation/driver-api/early-userspace/buffer-format.rst).
///
/// Uncompressed on purpose: under TCG, decompressing even lz4 costs more boot time
/// than reading the larger image, for the small rootfs this is used for.
struct CpioArchive {
    private let output: OutputFile
    private var nextInode: UInt32 = 1

    init(writingTo output: OutputFile) {
        self.output = output
    }

    /// Adds a directory tree under `prefix` ("" for the archive's root).
    mutating func addTree(at root: String, entries: [FileTreeEntry]) throws(SystemError) {
        for entry in entries where !entry.relativePath.isEmpty {
            let path = "\(root)/\(entry.relativePath)"
            switch entry.kind {
            case .regular:
                try addHeader(entry.relativePath, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                              modified: entry.modificationSeconds, size: entry.size)
                try output.append(contentsOf: path)
                try pad()
            case .symlink:
                let target = Array(try FileTree.linkTarget(path).utf8)
                try addHeader(entry.relativePath, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                              modified: entry.modificationSeconds, size: target.count)
                try output.write(target)
                try pad()
            case .characterDevice, .blockDevice:
                try addHeader(entry.relativePath, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                              modified: entry.modificationSeconds, size: 0,
                              device: (entry.deviceMajor, entry.deviceMinor))
            case .directory, .fifo:
                try addHeader(entry.relativePath, mode: entry.mode, uid: entry.uid, gid: entry.gid,
                              modified: entry.modificationSeconds, size: 0)
            case .socket:
                continue // a socket file means nothing without its process
            }
        }
    }

    /// Adds a directory entry.
    mutating func addDirectory(_ name: String, mode: UInt32 = 0o755) throws(SystemError) {
        try addHeader(name, mode: UInt32(Self.S_IFDIR_BITS) | mode, uid: 0, gid: 0, modified: 0, size: 0)
    }

    /// Adds a character device node, e.g. /dev/console (5, 1): the kernel opens it
    /// for init's stdin/stdout/stderr before any devtmpfs is mounted.
    mutating func addCharacterDevice(_ name: String, major: UInt32, minor: UInt32, mode: UInt32 = 0o600) throws(SystemError) {
        try addHeader(name, mode: 0o020000 | mode, uid: 0, gid: 0, modified: 0, size: 0, device: (major, minor))
    }

    /// Adds a regular file with the contents of the host file `source`.
    mutating func addFile(_ name: String, from source: String, mode: UInt32) throws(SystemError) {
        let size = try Files.identity(of: source).size
        try addHeader(name, mode: UInt32(Self.S_IFREG_BITS) | mode, uid: 0, gid: 0, modified: 0, size: size)
        try output.append(contentsOf: source)
        try pad()
    }

    /// Adds a regular file with the given contents.
    mutating func addFile(_ name: String, contents: [UInt8], mode: UInt32) throws(SystemError) {
        try addHeader(name, mode: UInt32(Self.S_IFREG_BITS) | mode, uid: 0, gid: 0, modified: 0, size: contents.count)
        try output.write(contents)
        try pad()
    }

    /// Ends the archive; the kernel stops reading at this entry.
    mutating func finish() throws(SystemError) {
        try addHeader("TRAILER!!!", mode: 0, uid: 0, gid: 0, modified: 0, size: 0, linkCount: 1)
        try pad(to: 512)
    }

    private mutating func addHeader(_ name: String, mode: UInt32, uid: UInt32, gid: UInt32, modified: Int,
                                    size: Int, device: (UInt32, UInt32) = (0, 0), linkCount: UInt32? = nil) throws(SystemError) {
        let nameBytes = Array(name.utf8) + [0]
        let isDirectory = mode & 0o170000 == UInt32(Self.S_IFDIR_BITS)
        let fields: [UInt32] = [
            nextInode, mode, uid, gid, linkCount ?? (isDirectory ? 2 : 1), UInt32(truncatingIfNeeded: max(modified, 0)),
            UInt32(size), 0, 0, device.0, device.1, UInt32(nameBytes.count), 0,
        ]
        nextInode += 1
        var header = Array("070701".utf8)
        for field in fields { header += Self.hex(field) }
        try output.write(header)
        try output.write(nameBytes)
        try pad()
    }

    private func pad(to alignment: Int = 4) throws(SystemError) {
        let remainder = output.offset % alignment
        if remainder != 0 { try output.write([UInt8](repeating: 0, count: alignment - remainder)) }
    }

    static func hex(_ value: UInt32) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return (0..<8).reversed().map { digits[Int((value >> (UInt32($0) * 4)) & 0xf)] }
    }

    private static let S_IFDIR_BITS = 0o040000
    private static let S_IFREG_BITS = 0o100000
}
