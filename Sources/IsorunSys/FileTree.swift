import Glibc

/// One entry of a directory tree as lstat(2) saw it, for archiving a rootfs.
public struct FileTreeEntry: Sendable {
    public enum Kind: Sendable, Equatable { case directory, regular, symlink, characterDevice, blockDevice, fifo, socket }

    /// Path relative to the walked root, without a leading slash ("" is the root itself).
    public let relativePath: String
    public let kind: Kind
    public let mode: UInt32
    public let uid: UInt32
    public let gid: UInt32
    public let size: Int
    public let modificationSeconds: Int
    public let modificationNanoseconds: Int
    public let deviceMajor: UInt32
    public let deviceMinor: UInt32
    public let inode: UInt64
    public let linkCount: Int
}

/// Walks a directory tree without following symlinks, in a stable (sorted) order.
public enum FileTree {
    /// Every entry under `root`, parents before children, the root first.
    public static func walk(_ root: String) throws(SystemError) -> [FileTreeEntry] {
        var entries: [FileTreeEntry] = []
        try visit(root: root, relative: "", into: &entries)
        return entries
    }

    private static func visit(root: String, relative: String, into entries: inout [FileTreeEntry]) throws(SystemError) {
        let path = relative.isEmpty ? root : "\(root)/\(relative)"
        let entry = try describe(path, relative: relative)
        entries.append(entry)
        guard entry.kind == .directory else { return }
        for name in try Files.list(path).sorted() {
            try visit(root: root, relative: relative.isEmpty ? name : "\(relative)/\(name)", into: &entries)
        }
    }

    static func describe(_ path: String, relative: String) throws(SystemError) -> FileTreeEntry {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw SystemError("lstat", path) }
        let kind: FileTreeEntry.Kind
        switch info.st_mode & S_IFMT {
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        case S_IFIFO: kind = .fifo
        case S_IFSOCK: kind = .socket
        default: kind = .regular
        }
        return FileTreeEntry(
            relativePath: relative, kind: kind, mode: info.st_mode, uid: info.st_uid, gid: info.st_gid,
            size: Int(info.st_size), modificationSeconds: info.st_mtim.tv_sec,
            modificationNanoseconds: info.st_mtim.tv_nsec,
            deviceMajor: DeviceNumber.major(info.st_rdev), deviceMinor: DeviceNumber.minor(info.st_rdev),
            inode: UInt64(info.st_ino), linkCount: Int(info.st_nlink))
    }

    /// The target of a symbolic link.
    public static func linkTarget(_ path: String) throws(SystemError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { throw SystemError("readlink", path) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Files {
    /// mkfifo(3); an existing FIFO is replaced so a stale one from a killed run is not reused.
    public static func makeFifo(_ path: String, mode: mode_t = 0o600) throws(SystemError) {
        unlink(path)
        guard mkfifo(path, mode) == 0 else { throw SystemError("mkfifo", path) }
    }

    /// Size and modification time of a file (following symlinks), for cache keys.
    public static func identity(of path: String) throws(SystemError) -> (size: Int, modified: Int, inode: UInt64) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SystemError("stat", path) }
        return (Int(info.st_size), info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec, UInt64(info.st_ino))
    }

    /// rename(2).
    public static func rename(_ from: String, to: String) throws(SystemError) {
        guard Glibc.rename(from, to) == 0 else { throw SystemError("rename", from) }
    }
}

/// A file written sequentially through a buffer: large archives without one syscall per field.
public final class OutputFile {
    public let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var closed = false
    /// Bytes written so far (buffered ones included).
    public private(set) var offset = 0

    /// Creates (or truncates) `path`.
    public init(creating path: String, mode: mode_t = 0o644) throws(SystemError) {
        let fd = retryingOnInterrupt { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw SystemError("open", path) }
        self.path = path
        self.fd = fd
        buffer.reserveCapacity(1 << 20)
    }

    deinit { if !closed { Glibc.close(fd) } }

    public func write(_ bytes: some Collection<UInt8>) throws(SystemError) {
        buffer.append(contentsOf: bytes)
        offset += bytes.count
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Copies another file's contents in.
    public func append(contentsOf path: String) throws(SystemError) {
        try flush()
        let input = retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC) }
        guard input >= 0 else { throw SystemError("open", path) }
        defer { Glibc.close(input) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in retryingOnInterrupt { read(input, raw.baseAddress, raw.count) } }
            if count < 0 { throw SystemError("read", path) }
            if count == 0 { return }
            try writeAll(chunk[0..<count])
            offset += count
        }
    }

    public func flush() throws(SystemError) {
        try writeAll(buffer[...])
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws(SystemError) {
        try flush()
        closed = true
        guard Glibc.close(fd) == 0 else { throw SystemError("close", path) }
    }

    private func writeAll(_ bytes: ArraySlice<UInt8>) throws(SystemError) {
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let written = bytes[start...].withUnsafeBytes { raw in
                retryingOnInterrupt { Glibc.write(fd, raw.baseAddress, raw.count) }
            }
            guard written > 0 else { throw SystemError("write", path) }
            start += written
        }
    }
}

extension Files {
    /// realpath(3): the canonical path, symlinks resolved.
    public static func resolve(_ path: String) throws(SystemError) -> String {
        guard let resolved = realpath(path, nil) else { throw SystemError("realpath", path) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether any user may read `path`: every directory on its canonical path searchable by
    /// others, and the file readable by them (by mode bits; ACLs are not consulted).
    public static func isReadableByAnyone(_ path: String) -> Bool {
        guard let canonical = try? resolve(path) else { return false }
        var info = stat()
        guard stat(canonical, &info) == 0, info.st_mode & S_IROTH != 0 else { return false }
        var directory = canonical
        while let slash = directory.lastIndex(of: "/"), slash != directory.startIndex {
            directory = String(directory[..<slash])
            guard stat(directory, &info) == 0, info.st_mode & S_IXOTH != 0 else { return false }
        }
        return true
    }

    /// Sets a file's modification time to now (marks a cache entry as recently used).
    public static func touch(_ path: String) {
        _ = utimensat(AT_FDCWD, path, nil, 0)
    }

    /// Modification time in nanoseconds, or nil if the file cannot be read.
    public static func modificationTime(_ path: String) -> Int? {
        try? identity(of: path).modified
    }
}
