import CIsorunShim
import Glibc

/// The file operations isorun needs on /proc, /sys/fs/cgroup and its runtime root.
/// Small, synchronous and Foundation-free: they sit on the startup path.
public enum Files {
    /// Whether `descriptor` is open in this process.
    public static func isOpenDescriptor(_ descriptor: Int32) -> Bool {
        fcntl(descriptor, F_GETFD) >= 0
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// `name` in the directory that holds `path`: a program installed beside another
    /// (isorun-init and isorun-oci beside isorun). Cut at the last slash rather than
    /// split and joined: `joined` would scan every protocol conformance in the binary on
    /// first use (see joinedWithoutLookup).
    public static func sibling(_ name: String, of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "/" + name }
        return path[..<slash] + "/" + name
    }

    /// Whether this process may write to `path` (create entries in it, for a directory),
    /// by its real ids, as access(2) checks.
    public static func isWritable(_ path: String) -> Bool {
        access(path, W_OK) == 0
    }

    /// Whether this process may execute `path`, by its real ids, as access(2) checks.
    public static func isExecutable(_ path: String) -> Bool {
        access(path, X_OK) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    public static func read(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw SystemError("open", path) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { buffer in
                retryingOnInterrupt { Glibc.read(fd, buffer.baseAddress, buffer.count) }
            }
            if count < 0 { throw SystemError("read", path) }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }

    /// The working directory, as getcwd(3) reports it ("/" if it cannot).
    public static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(nulTerminated: buffer)
    }

    public static func readString(_ path: String) throws(SystemError) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Writes `contents` in one write(2): cgroup and /proc files need that.
    public static func write(_ path: String, _ contents: String, create: Bool = false) throws(SystemError) {
        try write(path, bytes: Array(contents.utf8), create: create)
    }

    /// Writes each of `values` in a write(2) of its own to one open `path`: a cgroup file that
    /// takes one entry per write (v1's devices.allow) without an open and close per entry.
    public static func writeEach(_ path: String, _ values: [String]) throws(SystemError) {
        let fd = retryingOnInterrupt { open(path, O_WRONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw SystemError("open", path) }
        defer { close(fd) }
        for value in values {
            let bytes = Array(value.utf8)
            let written = bytes.withUnsafeBytes { buffer in
                retryingOnInterrupt { Glibc.write(fd, buffer.baseAddress, buffer.count) }
            }
            guard written == bytes.count else { throw SystemError("write", "\(path) (\(value))") }
        }
    }

    public static func write(_ path: String, bytes: [UInt8], create: Bool = false, mode: mode_t = 0o644) throws(SystemError) {
        let flags = O_WRONLY | O_CLOEXEC | (create ? (O_CREAT | O_TRUNC) : 0)
        let fd = retryingOnInterrupt { open(path, flags, mode) }
        guard fd >= 0 else { throw SystemError("open", path) }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { buffer in
            retryingOnInterrupt { Glibc.write(fd, buffer.baseAddress, buffer.count) }
        }
        guard written == bytes.count else { throw SystemError("write", path) }
    }

    /// Writes a file atomically (temp file + rename), so a reader never sees half of it.
    public static func writeAtomically(_ path: String, _ contents: String) throws(SystemError) {
        try writeAtomically(path, bytes: Array(contents.utf8))
    }

    /// The temporary file is named after this process, so two writers of the same path
    /// never write into one temporary file.
    public static func writeAtomically(_ path: String, bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let temporary = "\(path).\(HostProcess.id).tmp"
        do { try write(temporary, bytes: bytes, create: true, mode: mode) } catch {
            unlink(temporary)
            throw error
        }
        guard Glibc.rename(temporary, path) == 0 else {
            let error = SystemError("rename", temporary)
            unlink(temporary)
            throw error
        }
    }

    /// A descriptor of an unlinked in-memory file holding `contents`, positioned at its
    /// start: a program's stdin that never blocks the writer (memfd_create).
    public static func memoryFile(named name: String, contents: [UInt8]) throws(SystemError) -> Int32 {
        let fd = isorun_memfd_create(name)
        guard fd >= 0 else { throw SystemError("memfd_create", name, errno: -fd) }
        let written = contents.withUnsafeBytes { raw in retryingOnInterrupt { Glibc.write(fd, raw.baseAddress, raw.count) } }
        guard written == contents.count, lseek(fd, 0, SEEK_SET) == 0 else {
            let error = SystemError("write", name)
            close(fd)
            throw error
        }
        return fd
    }

    /// The last non-empty line among the final `limit` bytes of the file behind `fd`
    /// (read with pread, so a writer sharing its offset is not disturbed); nil if none.
    public static func lastLine(of fd: Int32, limit: Int = 4096) -> String? {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { return nil }
        let start = max(Int(info.st_size) - limit, 0)
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) - start)
        let got = bytes.withUnsafeMutableBytes { raw in retryingOnInterrupt { pread(fd, raw.baseAddress, raw.count, off_t(start)) } }
        guard got > 0 else { return nil }
        return String(decoding: bytes[..<got], as: UTF8.self).split(whereSeparator: \.isNewline).last.map(String.init)
    }

    /// The user and group that own `path`, or nil when it cannot be read.
    public static func owner(of path: String) -> (uid: uid_t, gid: gid_t)? {
        var info = stat()
        return stat(path, &info) == 0 ? (info.st_uid, info.st_gid) : nil
    }

    /// Gives `path` itself (not a symlink's target) to `uid` and `gid`.
    public static func changeOwner(_ path: String, uid: uid_t, gid: gid_t) throws(SystemError) {
        guard lchown(path, uid, gid) == 0 else { throw SystemError("chown", path) }
    }

    public static func changeMode(_ path: String, _ mode: mode_t) throws(SystemError) {
        guard chmod(path, mode) == 0 else { throw SystemError("chmod", path) }
    }

    public static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        _ = try makeDirectoryIfAbsent(path, mode: mode)
    }

    /// mkdir -p. Usually only the last component is missing (a cgroup or state directory
    /// under an existing parent), so that is tried first; parents only on ENOENT.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        if mkdir(path, mode) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw SystemError("mkdir", path)
        }
        try makeDirectories(String(path[..<slash]), mode: mode)
        try makeDirectory(path, mode: mode)
    }

    /// mkdir that tells whether this call made the directory: true when made, false when
    /// it was already there. Throws for anything else, ENOENT included.
    public static func makeDirectoryIfAbsent(_ path: String, mode: mode_t = 0o755) throws(SystemError) -> Bool {
        if mkdir(path, mode) == 0 { return true }
        guard errno == EEXIST else { throw SystemError("mkdir", path) }
        return false
    }

    /// Sets the extended attribute `name` on `path` itself (not a symlink's target); false
    /// where the filesystem or the caller's privileges refuse it.
    @discardableResult
    public static func setAttribute(_ name: String, _ value: String, at path: String) -> Bool {
        Array(value.utf8).withUnsafeBytes { lsetxattr(path, name, $0.baseAddress, $0.count, 0) } == 0
    }

    public static func hasAttribute(_ name: String, at path: String) -> Bool {
        lgetxattr(path, name, nil, 0) >= 0
    }

    public static func removeDirectory(_ path: String) throws(SystemError) {
        guard rmdir(path) == 0 || errno == ENOENT else { throw SystemError("rmdir", path) }
    }

    public static func remove(_ path: String) throws(SystemError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw SystemError("unlink", path) }
    }

    public static func symlink(target: String, at path: String) throws(SystemError) {
        guard Glibc.symlink(target, path) == 0 else { throw SystemError("symlink", path) }
    }

    /// Removes a directory tree that isorun itself created (no symlink following).
    public static func removeTree(_ path: String) throws(SystemError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw SystemError("lstat", path)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for entry in try list(path) { try removeTree(path + "/" + entry) }
            try removeDirectory(path)
        } else {
            try remove(path)
        }
    }

    /// Names in a directory, without "." and "..".
    public static func list(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Opens a file to hand its descriptor to the shim (e.g. a namespace to join).
    public static func openForReading(_ path: String) throws(SystemError) -> Int32 {
        let fd = retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw SystemError("open", path) }
        return fd
    }
}

extension Files {
    /// statfs(2) f_type of the filesystem holding `path`, or nil if it cannot be read.
    public static func filesystemMagic(_ path: String) -> Int? {
        let magic = isorun_filesystem_magic(path)
        return magic < 0 ? nil : Int(magic)
    }

    /// Well-known statfs magic numbers (linux/magic.h).
    public static let cgroup2Magic = 0x6367_7270
    public static let cgroup1Magic = 0x0027_e0eb
    public static let tmpfsMagic = 0x0102_1994
}

extension Files {
    public enum Kind: Sendable, Equatable { case directory, regular, other }

    /// What `path` is, following symlinks (a bundle's rootfs may be a link).
    public static func kind(of path: String) -> Result<Kind, SystemError> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(SystemError("stat", path)) }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .success(.directory)
        case S_IFREG: return .success(.regular)
        default: return .success(.other)
        }
    }
}

/// The mount table of isorun's mount namespace (/proc/self/mountinfo).
public enum MountTable {
    /// The mount point whose mount holds `path` (the longest one above or at it).
    public static func mountPoint(containing path: String) -> String? {
        var best: String?
        for point in mountPoints() {
            let covers = point == "/" || path == point || path.hasPrefix(point + "/")
            if covers && point.count >= (best?.count ?? 0) { best = point }
        }
        return best
    }

    /// Detaches every mount at or below `path`, deepest first.
    public static func unmountAll(under path: String) {
        let points = mountPoints().filter { $0 == path || $0.hasPrefix(path + "/") }
        for point in points.reversed() { _ = umount2(point, Int32(MNT_DETACH)) }
    }

    /// Every mount point, in mount order (a mount comes after the one it sits on).
    private static func mountPoints() -> [String] {
        guard let text = try? Files.readString("/proc/self/mountinfo") else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 ? unescape(fields[4]) : nil
        }
    }

    /// mountinfo writes space, tab, newline and backslash as \ooo octal escapes.
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(field.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "\\"), iterator.count >= 3,
               let value = UInt8(String(decoding: iterator.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                iterator = iterator.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    /// The text of a C buffer up to its first NUL (all of it when there is none).
    public init(nulTerminated buffer: [CChar]) {
        self = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
