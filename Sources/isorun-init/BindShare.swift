import CIsorunInit

/// The host's share of the bundle's bind mounts (9p tag `GuestPorts.bindShare`, one entry
/// per mount; see the host's GuestMounts). Mounted in the initramfs and reached through
/// a descriptor, so that it stays reachable after a disk root covers the initramfs;
/// detached once every entry is bound, leaving only the binds.
struct BindShare {
    private let descriptor: Int32

    static let mountPoint = "/.isorun/binds"
    /// 9P2000.L for owners, modes and symlinks as the host has them; `cache=mmap` so that
    /// files can be mapped (executables, databases) while reads and writes go straight to
    /// the host, which sees them at once.
    static let options = "trans=virtio,version=9p2000.L,cache=mmap,msize=262144"

    /// Mounts the share when the bundle has bind mounts.
    init(needed: Bool) {
        guard needed else {
            descriptor = -1
            return
        }
        mkdir(Self.mountPoint, 0o755)
        if mount(GuestPorts.bindShare, Self.mountPoint, "9p", 0, Self.options) != 0 {
            GuestInit.fail("mount the host's bind share (9p \(GuestPorts.bindShare)) on \(Self.mountPoint): \(GuestInit.errnoText())")
        }
        descriptor = isorun_guest_open(Self.mountPoint, O_DIRECTORY | O_RDONLY | O_CLOEXEC)
        if descriptor < 0 { GuestInit.fail("open \(Self.mountPoint): \(GuestInit.errnoText())") }
    }

    private var path: String { "/proc/self/fd/\(descriptor)" }

    func bind(_ name: String, at destination: String, flags: UInt, isFile: Bool) {
        var step: UnsafePointer<CChar>? = nil
        if isorun_guest_bind("\(path)/\(name)", destination, isFile ? 1 : 0, flags, &step) != 0 {
            let what = step.map { String(cString: $0) } ?? "bind"
            GuestInit.fail("bind mount on \(destination): \(what): \(GuestInit.errnoText())")
        }
    }

    /// The binds hold what they show; the share itself goes.
    func detach() {
        guard descriptor >= 0 else { return }
        if umount2(path, Int32(MNT_DETACH)) != 0 { GuestInit.fail("detach the host's bind share: \(GuestInit.errnoText())") }
        close(descriptor)
    }
}
