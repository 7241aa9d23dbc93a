import Glibc
import IsorunCore
import IsorunSys

/// Builds what a VM boots from (an initramfs with the bundle's rootfs and isorun-init,
/// or for a large rootfs an erofs disk image) and keeps it in a cache keyed by what
/// went into it, so that only the first run pays for it.
///
/// The key hashes each file's path, type, mode, owner, size and modification time,
/// like make does, rather than its contents: hashing a 200 MB toolchain on every
/// start would cost more than the boot. A file changed in place with its mtime
/// preserved is not noticed; `isorun` documents that the cache can be cleared.
/// How the rootfs reaches the guest.
public enum RootLayout: String, Sendable, CaseIterable {
    /// By size: initramfs up to `GuestImageCache.initramfsLimitBytes`, disk image above.
    case automatic = "auto"
    case initramfs
    case diskImage = "disk"
}

struct GuestImageCache {
    let directory: String

    /// Rootfs up to this size (regular files) boot fastest from an initramfs; larger
    /// ones would sit twice in guest RAM while the kernel unpacks them, so they go on
    /// a read-only erofs disk instead. Measured on the development host: see README.
    static let initramfsLimitBytes = 32 << 20

    /// What the guest boots from: an initramfs, and for larger rootfs a disk image.
    struct GuestRoot {
        var initramfs: String
        /// A disk image holding the rootfs, or nil when the rootfs is in the initramfs.
        var diskImage: String?
        /// QEMU's name for the image's format ("raw" for the images isorun builds).
        var diskFormat = "raw"
        /// The filesystem on the disk; "auto" lets isorun-init try erofs, then ext4.
        var diskFilesystem = "erofs"
        /// Bytes of the rootfs's regular files.
        var rootfsBytes: Int
    }

    /// Builds or finds the images for `rootfs`, choosing by size unless `layout` says.
    func prepare(rootfs bundleRootfs: String, guestInit: GuestInitFiles, layout: RootLayout) throws(IsorunError) -> GuestRoot {
        let rootfs: String
        let entries: [FileTreeEntry]
        do {
            // The walk does not follow symlinks, but the rootfs itself may be one.
            rootfs = try Files.resolve(bundleRootfs)
            entries = try FileTree.walk(rootfs)
        } catch { throw IsorunError("read rootfs", error) }
        let bytes = entries.reduce(0) { $0 + ($1.kind == .regular ? $1.size : 0) }
        let useDisk = switch layout {
        case .automatic: bytes > Self.initramfsLimitBytes
        case .initramfs: false
        case .diskImage: true
        }
        let initKey = try guestInit.cacheKey()

        if !useDisk {
            var key = CacheKey()
            key.add("initramfs-v2")
            key.add(initKey)
            for entry in entries { key.add(Self.describe(entry)) }
            let path = try build("initramfs", "\(key.hex).cpio") { output throws(SystemError) in
                var archive = CpioArchive(writingTo: output)
                try archive.addTree(at: rootfs, entries: entries)
                try Self.addBootEntries(to: &archive, rootfsHasDev: entries.contains { $0.relativePath == "dev" })
                try guestInit.add(to: &archive)
                try archive.finish()
            }
            return GuestRoot(initramfs: path, diskImage: nil, rootfsBytes: bytes)
        }

        let initramfs = try initOnlyInitramfs(guestInit)
        var imageKey = CacheKey()
        imageKey.add("erofs-v1")
        for entry in entries { imageKey.add(Self.describe(entry)) }
        let image = try buildDiskImage(rootfs: rootfs, name: "\(imageKey.hex).erofs")
        return GuestRoot(initramfs: initramfs, diskImage: image, rootfsBytes: bytes)
    }

    /// An initramfs holding only isorun-init, for a root that comes on a disk.
    func initOnlyInitramfs(_ guestInit: GuestInitFiles) throws(IsorunError) -> String {
        var key = CacheKey()
        key.add("init-only-v2")
        key.add(try guestInit.cacheKey())
        return try build("initramfs", "init-\(key.hex).cpio") { output throws(SystemError) in
            var archive = CpioArchive(writingTo: output)
            try Self.addBootEntries(to: &archive, rootfsHasDev: false)
            try guestInit.add(to: &archive)
            try archive.finish()
        }
    }

    /// What the kernel needs before init runs: /dev/console for init's stdio.
    private static func addBootEntries(to archive: inout CpioArchive, rootfsHasDev: Bool) throws(SystemError) {
        if !rootfsHasDev { try archive.addDirectory("dev", mode: 0o755) }
        try archive.addCharacterDevice("dev/console", major: 5, minor: 1)
    }

    private static func describe(_ entry: FileTreeEntry) -> String {
        "\(entry.relativePath)\0\(entry.mode) \(entry.uid) \(entry.gid) \(entry.size) "
            + "\(entry.modificationSeconds).\(entry.modificationNanoseconds) \(entry.inode)"
    }

    /// Writes `<directory>/<kind>/<name>` through `write` unless it is cached.
    private func build(_ kind: String, _ name: String,
                       _ write: (OutputFile) throws(SystemError) -> Void) throws(IsorunError) -> String {
        try cached(kind, name) { temporary throws(IsorunError) in
            do throws(SystemError) {
                let output = try OutputFile(creating: temporary)
                try write(output)
                try output.close()
            } catch { throw IsorunError("write \(temporary)", error) }
        }
    }

    /// An uncompressed erofs image of `rootfs` (mkfs.erofs from erofs-utils).
    private func buildDiskImage(rootfs: String, name: String) throws(IsorunError) -> String {
        try cached("images", name) { temporary throws(IsorunError) in
            let (status, complaint) = HostCommand.run(["mkfs.erofs", "-T0", temporary, rootfs])
            guard status == 0 else { throw IsorunError("mkfs.erofs \(rootfs) failed (status \(status)): \(complaint)") }
        }
    }

    /// Returns `<directory>/<kind>/<name>`, first producing it with `produce` (given a
    /// temporary path, renamed into place when it succeeds) unless it is cached.
    private func cached(_ kind: String, _ name: String,
                        produce: (String) throws(IsorunError) -> Void) throws(IsorunError) -> String {
        let imageDirectory = "\(directory)/\(kind)"
        let path = "\(imageDirectory)/\(name)"
        if Files.exists(path) { return markUsed(path) }
        removeAbandonedTemporaries(in: imageDirectory)
        pruneLeastRecentlyUsed(in: imageDirectory)
        let started = MonotonicClock.nanoseconds()
        let temporary = "\(path).\(HostProcess.id).tmp"
        do { try Files.makeDirectories(imageDirectory) } catch { throw IsorunError("image cache", error) }
        do throws(IsorunError) {
            try produce(temporary)
            do { try Files.rename(temporary, to: path) } catch { throw IsorunError("image cache", error) }
        } catch {
            try? Files.remove(temporary)
            throw error
        }
        Log.debug("built \(path) in \(Double(MonotonicClock.nanoseconds() - started) / 1e6) ms")
        return path
    }

    /// Images kept per kind; older ones are deleted when a new one is built, so a
    /// bundle edited many times does not fill the disk.
    static let retainedImages = 8

    private func markUsed(_ path: String) -> String {
        Files.touch(path)
        return path
    }

    /// Keeps the `retainedImages - 1` most recently used images (the new one makes up the rest).
    func pruneLeastRecentlyUsed(in imageDirectory: String) {
        let images = ((try? Files.list(imageDirectory)) ?? []).filter { !$0.hasSuffix(".tmp") }
            .map { (name: $0, used: Files.modificationTime("\(imageDirectory)/\($0)") ?? 0) }
            .sorted { $0.used > $1.used }
        for image in images.dropFirst(Self.retainedImages - 1) {
            try? Files.remove("\(imageDirectory)/\(image.name)")
            Log.debug("image cache: removed \(image.name) (least recently used)")
        }
    }

    /// Deletes half-written images of builds whose isorun was killed (`<key>.cpio.<pid>.tmp`).
    func removeAbandonedTemporaries(in imageDirectory: String) {
        for name in (try? Files.list(imageDirectory)) ?? [] where name.hasSuffix(".tmp") {
            // <name>.<pid>.tmp, or an earlier isorun's <name>.<pid>.log.tmp
            let parts = name.split(separator: ".").dropLast()
            guard let pid = parts.reversed().lazy.compactMap({ pid_t($0) }).first, !Processes.isAlive(pid) else { continue }
            try? Files.remove("\(imageDirectory)/\(name)")
        }
    }
}

/// What isorun puts under /.isorun in every initramfs: the init and, for a stock
/// kernel, the modules it must load (with their order).
struct GuestInitFiles {
    var binary: String
    var modules: [String] = []

    /// Identifies the files by path, size, mtime and inode.
    func cacheKey() throws(IsorunError) -> String {
        var parts: [String] = []
        for file in [binary] + modules {
            do {
                let identity = try Files.identity(of: file)
                parts.append("\(file) \(identity.size) \(identity.modified) \(identity.inode)")
            } catch { throw IsorunError("guest init", error) }
        }
        return parts.joined(separator: "\n")
    }

    func add(to archive: inout CpioArchive) throws(SystemError) {
        try archive.addDirectory(".isorun", mode: 0o755)
        try archive.addFile(".isorun/init", from: binary, mode: 0o755)
        guard !modules.isEmpty else { return }
        try archive.addDirectory(".isorun/modules", mode: 0o755)
        var order = ""
        for module in modules {
            let name = String(module.split(separator: "/").last ?? "")
            try archive.addFile(".isorun/modules/\(name)", from: module, mode: 0o644)
            order += name + "\n"
        }
        try archive.addFile(".isorun/modules/order", contents: Array(order.utf8), mode: 0o644)
    }
}
