import Glibc
import IsorunCore
import IsorunGuestProtocol
import IsorunSandbox
import IsorunSpec
import IsorunSys

/// The bundle's `mounts` that a VM honours besides proc, sys and dev: tmpfs, made in the
/// guest, and bind mounts of host paths, shared with it.
///
/// Each bind's source is bound, in QEMU's own mount namespace, onto an entry of one
/// directory in the run's state directory (`binds/0`, `binds/1`, …), which QEMU shares
/// over virtio-9p; isorun-init binds each entry into place, in the bundle's order. A file
/// is shared as an entry of its own, never through its parent directory, so the guest
/// reaches nothing the bundle did not bind. The host's mount table never holds these
/// binds and they end with QEMU; `ro` is enforced on the host side as well. Sources that
/// are neither directories nor regular files (device nodes, sockets) are not shared.
struct GuestMounts {
    /// In the bundle's order, for isorun-init.
    private(set) var messages: [GuestMessage] = []
    /// QEMU's binds: source onto share entry.
    private(set) var hostBinds: [SpawnPlan.MountStep] = []
    /// The shared directory, when the bundle has bind mounts.
    private(set) var shareDirectory: String?

    /// The remount flags of a bind that the guest applies (mount(2)'s own values: the same
    /// kernel ABI on both sides of the VM).
    static let guestFlags = UInt(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME
                                 | MS_RELATIME | MS_STRICTATIME)

    init(bundle: Bundle, stateDirectory: String) throws(IsorunError) {
        let configFile = "\(bundle.directory)/config.json"
        for (index, mount) in (bundle.config.mounts ?? []).enumerated() {
            if mount.type == "tmpfs" {
                messages.append(.tmpfs(destination: mount.destination,
                                       options: MountPlan.freshMountOptions(mount.options ?? []).joined(separator: ",")))
                continue
            }
            guard let step = try MountPlan.bindStep(for: mount, index: index, bundleDirectory: bundle.directory,
                                                    configFile: configFile), let source = step.source else { continue }
            let options = mount.options ?? []
            if !(mount.uidMappings ?? []).isEmpty || !(mount.gidMappings ?? []).isEmpty
                || options.contains("idmap") || options.contains("ridmap") {
                throw IsorunError("\(configFile): mounts[\(index)]: idmapped mounts are not supported in VM mode (the guest sees the host's owners)")
            }
            if case .success(.other) = Files.kind(of: source) {
                // A device node or socket over 9p would be the guest kernel's, not the host's.
                Log.debug("vm: mounts[\(index)]: \(source) is neither a directory nor a file; not shared with the guest")
                continue
            }
            let entry = try addEntry(isFile: step.targetIsFile, stateDirectory: stateDirectory)
            var hostBind = SpawnPlan.MountStep(kind: .bind, source: source, target: "\(shareDirectory!)/\(entry)",
                                               flags: step.flags, remountFlags: step.remountFlags & UInt(MS_RDONLY),
                                               targetIsFile: step.targetIsFile)
            // `rro` and the like hold on the host for the mounts below the source too; the
            // guest sees the share as one mount, so there `rro` is its `ro`.
            (hostBind.recursiveSet, hostBind.recursiveClear) = (step.recursiveSet, step.recursiveClear)
            hostBinds.append(hostBind)
            let recursivelyReadOnly = step.recursiveSet & MountPlan.recursiveReadOnly != 0 ? UInt(MS_RDONLY) : 0
            messages.append(.bind(name: entry, destination: mount.destination,
                                  flags: step.remountFlags & Self.guestFlags | recursivelyReadOnly, isFile: step.targetIsFile))
        }
    }

    /// Makes the next share entry (an empty directory or file, the mount point of one bind)
    /// and returns its name.
    private mutating func addEntry(isFile: Bool, stateDirectory: String) throws(IsorunError) -> String {
        let directory = shareDirectory ?? "\(stateDirectory)/binds"
        let name = String(hostBinds.count)
        do {
            if shareDirectory == nil { try Files.makeDirectory(directory, mode: 0o755) }
            shareDirectory = directory
            if isFile {
                try Files.write("\(directory)/\(name)", bytes: [], create: true)
            } else {
                try Files.makeDirectory("\(directory)/\(name)", mode: 0o755)
            }
        } catch {
            throw IsorunError("VM bind mounts", error)
        }
        return name
    }
}
