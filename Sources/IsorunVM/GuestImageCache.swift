import Glibc
import IsorunCore
import IsorunSys

/// Builds the initramfs a VM boots (the bundle's rootfs plus isorun-init) and keeps
/// it in a cache keyed by what went into it, so that only the first run pays for it.
///
/// The key hashes each file's path, type, mode, owner, size and modification time,
/// like make does, rather than its contents: hashing a 200 MB toolchain on every
/// start would cost more than the boot. A file changed in place with its mtime
/// preserved is not noticed; `isorun` documents that the cache can be cleared.
struct GuestImageCache {
    let directory: String

    /// `$ISORUN_CACHE` or /var/cache/isorun: outside the runtime root (a tmpfs that
    /// is per boot) because images are worth keeping across reboots.
    static var defaultDirectory: String {
        if let value = getenv("ISORUN_CACHE") { return String(cString: value) }
        return "/var/cache/isorun"
    }

    /// The path of an initramfs holding `rootfs` with `initBinary` at /.isorun/init.
    func initramfs(rootfs: String, initBinary: String) throws(IsorunError) -> String {
        let entries: [FileTreeEntry]
        do { entries = try FileTree.walk(rootfs) } catch { throw IsorunError("read rootfs", error) }
        var key = CacheKey()
        key.add("initramfs-v1")
        do {
            let initIdentity = try Files.identity(of: initBinary)
            key.add("\(initBinary) \(initIdentity.size) \(initIdentity.modified) \(initIdentity.inode)")
        } catch { throw IsorunError("guest init", error) }
        for entry in entries {
            key.add("\(entry.relativePath)\0\(entry.mode) \(entry.uid) \(entry.gid) \(entry.size) "
                    + "\(entry.modificationSeconds).\(entry.modificationNanoseconds) \(entry.inode)")
        }
        let imageDirectory = "\(directory)/initramfs"
        let path = "\(imageDirectory)/\(key.hex).cpio"
        if Files.exists(path) { return path }

        removeAbandonedTemporaries(in: imageDirectory)
        let started = MonotonicClock.nanoseconds()
        let temporary = "\(path).\(getpid()).tmp"
        do {
            try Files.makeDirectories(imageDirectory)
            let output = try OutputFile(creating: temporary)
            var archive = CpioArchive(writingTo: output)
            try archive.addTree(at: rootfs, entries: entries)
            try archive.addDirectory(".isorun", mode: 0o755)
            try archive.addFile(".isorun/init", from: initBinary, mode: 0o755)
            try archive.finish()
            try output.close()
            try Files.rename(temporary, to: path)
        } catch {
            try? Files.remove(temporary)
            throw IsorunError("build initramfs \(path)", error)
        }
        let elapsed = Double(MonotonicClock.nanoseconds() - started) / 1e6
        Log.logger.debug("built initramfs \(path) from \(entries.count) entries in \(elapsed) ms")
        return path
    }

    /// Deletes half-written images of builds whose isorun was killed (`<key>.cpio.<pid>.tmp`).
    func removeAbandonedTemporaries(in imageDirectory: String) {
        for name in (try? Files.list(imageDirectory)) ?? [] where name.hasSuffix(".tmp") {
            let parts = name.split(separator: ".")
            guard parts.count >= 3, let pid = pid_t(parts[parts.count - 2]), !Processes.isAlive(pid) else { continue }
            try? Files.remove("\(imageDirectory)/\(name)")
        }
    }
}

/// FNV-1a (64 bit) over strings: a cache key, not a security boundary (the cache
/// is root's own directory).
struct CacheKey {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ text: String) {
        for byte in text.utf8 {
            state ^= UInt64(byte)
            state &*= 0x0000_0100_0000_01b3
        }
        state ^= 0x0a
        state &*= 0x0000_0100_0000_01b3
    }

    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: (0..<16).reversed().map { digits[Int((state >> (UInt64($0) * 4)) & 0xf)] }, as: UTF8.self)
    }
}
