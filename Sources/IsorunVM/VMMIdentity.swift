import Glibc
import IsorunCore
import IsorunSys

/// Who QEMU runs as. Without capabilities uid 0 still owns root's files and may signal
/// every root process, so root's QEMU takes the jailer's next step: a uid and gid of its
/// own, one per VM (from the pid of the isorun that owns the VM, so no two live VMs share
/// one and no QEMU can signal or trace another). It needs only what isorun hands it: its
/// FIFOs, console log and socket directory, the world-readable kernel and images in the
/// cache, and `/dev/kvm` through the device's group. A QEMU that serves the bundle's bind
/// mounts keeps the file server's capabilities under that uid (VMLauncher.confine), which
/// is what 9p `passthrough` needs to act as the files' owners.
///
/// QEMU stays root where that is not enough: when it boots a kernel, initramfs or disk
/// image not every user may read (a cache or a file the bundle names behind a private
/// directory), or is the bundle's own `vm.hypervisor.path`. A rootless isorun's QEMU is
/// the user's. Where it stays root, its root of its own (VMMJail) still bounds what it
/// reaches.
struct VMMIdentity: Equatable {
    /// The first id: far above the ids distributions hand out, and below 2^31, which some
    /// tools print as negative.
    static let firstID: UInt32 = 2_000_000_000

    let uid: uid_t
    let gid: gid_t
    let groups: [gid_t]

    /// The identity for the VM owned by the isorun process `owner`, or nil when QEMU must
    /// stay who isorun is (see above).
    static func forVM(owner: pid_t, accelerator: Accelerator, boots files: [String],
                      configuredHypervisor: Bool) -> VMMIdentity? {
        guard !HostProcess.isRootless, !configuredHypervisor else { return nil }
        if let hidden = files.first(where: { !Files.isReadableByAnyone($0) }) {
            Log.debug("vm: QEMU stays root: \(hidden) is not readable by every user")
            return nil
        }
        let id = firstID + UInt32(owner)
        // /dev/kvm is root's and its group's (kvm on Debian): QEMU joins that group.
        let kvmGroup = accelerator == .kvm ? Files.owner(of: "/dev/kvm")?.gid : nil
        return VMMIdentity(uid: id, gid: id, groups: kvmGroup.map { [$0] } ?? [])
    }

    /// Gives QEMU the files it must open or create in the run's state directory, and lets
    /// its group (no one else) pass through that directory, which stays root's.
    func handOver(_ paths: [String], in stateDirectory: String) throws(IsorunError) {
        do throws(SystemError) {
            try Files.changeOwner(stateDirectory, uid: 0, gid: gid)
            try Files.changeMode(stateDirectory, 0o710)
            for path in paths { try Files.changeOwner(path, uid: uid, gid: gid) }
        } catch {
            throw IsorunError("vm: hand QEMU's files to its own uid", error)
        }
    }
}
