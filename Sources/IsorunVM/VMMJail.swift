import Glibc
import IsorunCore
import IsorunSys

/// QEMU's own root, as Firecracker's jailer gives its VMM a chroot: a mount namespace
/// whose root (after `pivot_root`) holds only what QEMU opens, each at the path its
/// command line names. A QEMU taken over by its guest finds no host files beyond these,
/// not even the run's record beside them. That matters most where QEMU keeps the file
/// server's capabilities or stays root (see VMMIdentity).
///
/// What it holds: `/usr` and the top-level links into it (the loader, libraries and the
/// system's firmware files), `/etc/ld.so.cache`, the QEMU build's own directory, the
/// kernel, initramfs and disk image, all read-only; a few character devices (`/dev/kvm`
/// under KVM); the files QEMU talks to isorun through (FIFOs, console log, the QMP
/// socket's directory); the shared bind mounts; and a `/proc` of processes only, which
/// shows QEMU none but its own. No `/sys`, no `/etc` or `/run` otherwise. The root itself
/// is read-only; its mount points are made in `root`, a directory of the run's state
/// removed with it.
struct VMMJail: Equatable {
    /// The directory that becomes QEMU's `/`.
    let root: String
    let mounts: [SpawnPlan.MountStep]

    /// Devices any QEMU opens (the null device for its own stdio, entropy for its RNG).
    static let devices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]

    /// `readOnly`: files and directories QEMU reads (kernel, images, its build); `talk`: the
    /// state's files and directories it reads and writes; `shares`: the bind mounts it
    /// serves over 9p, already aimed at their share entries.
    static func plan(stateDirectory: String, readOnly: [String], talk: [String], shares: [SpawnPlan.MountStep],
                     accelerator: Accelerator) -> VMMJail {
        let sealed = UInt(MS_RDONLY | MS_NOSUID | MS_NODEV)
        func bind(_ path: String, remount: UInt) -> SpawnPlan.MountStep {
            .init(kind: .bind, source: path, target: path, remountFlags: remount, targetIsFile: !Files.isDirectory(path))
        }
        var steps = [bind("/usr", remount: sealed)]
        // Merged /usr (bin -> usr/bin, lib64 -> usr/lib64): the same links; on a host
        // without it, the directories themselves.
        for name in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            let path = "/\(name)"
            if let link = try? FileTree.linkTarget(path) {
                steps.append(.init(kind: .symlink, source: link, target: path))
            } else if Files.isDirectory(path) {
                steps.append(bind(path, remount: sealed))
            }
        }
        if Files.exists("/etc/ld.so.cache") { steps.append(bind("/etc/ld.so.cache", remount: sealed)) }
        steps.append(.init(kind: .filesystem, source: "tmpfs", target: "/dev", fstype: "tmpfs",
                           flags: UInt(MS_NOSUID | MS_NOEXEC), data: "mode=755,size=64k"))
        // 9p's file server reaches files through /proc/self/fd; no other process is shown.
        steps.append(.init(kind: .filesystem, source: "proc", target: "/proc", fstype: "proc",
                           flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), data: "subset=pid,hidepid=invisible"))
        for device in devices + (accelerator == .kvm ? ["/dev/kvm"] : []) where Files.exists(device) {
            steps.append(bind(device, remount: 0))
        }
        steps += readOnly.map { bind($0, remount: sealed) }
        steps += talk.map { bind($0, remount: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC)) }
        steps += shares
        return VMMJail(root: "\(stateDirectory)/vmm-root", mounts: steps)
    }

    /// Whether the jail can hold `hypervisor`: isorun's own build, or a system QEMU that the
    /// search path finds under `/usr` (whose libraries and firmware are there too). A QEMU
    /// elsewhere may need files the jail does not know of, so it runs outside, as a bundle's
    /// `vm.hypervisor.path` does wherever it is.
    static func holds(_ hypervisor: GuestHypervisor, searchPath: String) -> Bool {
        if hypervisor.isConfigured { return false }
        if hypervisor.buildDirectory != nil { return true }
        let candidates = hypervisor.path.hasPrefix("/")
            ? [hypervisor.path] : searchPath.split(separator: ":").map { "\($0)/\(hypervisor.path)" }
        guard let found = candidates.first(where: Files.isExecutable),
              let canonical = try? Files.resolve(found) else { return false }
        return canonical.hasPrefix("/usr/")
    }

    /// Puts QEMU's spawn in the jail: a mount namespace of its own, pivoted into `root`.
    func apply(to plan: inout SpawnPlan) throws(IsorunError) {
        do { try Files.makeDirectory(root, mode: 0o755) } catch { throw IsorunError("vm: QEMU's root", error) }
        plan.cloneFlags |= NamespaceFlags.mount
        plan.rootfs = root
        plan.mounts = mounts
        plan.readonlyRoot = true
    }
}
