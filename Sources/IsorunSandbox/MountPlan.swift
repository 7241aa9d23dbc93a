import Glibc
import IsorunCgroups
import IsorunCore
import IsorunSpec
import IsorunSys

/// The container's filesystem: the spec's `mounts` in order, then the default
/// devices and /dev symlinks every container gets (config-linux.md, "Default Devices").
public enum MountPlan {
    /// How a `cgroup` mount shows the workload its cgroup.
    enum CgroupView {
        /// A fresh cgroup filesystem seen through the workload's cgroup namespace; on v1 only
        /// the hierarchies in which the workload has a cgroup of its own (`own`: its
        /// directories), since in the others the namespace would show it the cgroup of
        /// whoever started isorun, and every cgroup below that.
        case namespaced(CgroupLayout, own: [String])
        /// Bind mounts of the workload's own cgroup directories (no cgroup namespace,
        /// or v1 inside a user namespace, where v1 cannot be mounted).
        case bindings([String])
    }

    /// The spec's default devices, all `c` with mode 0666 and owned by root. They are made
    /// with mknod, as runc makes them outside a user namespace: a bind of the host's node
    /// cost a mount at every start and an unmount when the namespace ends (6 of ~40 here).
    /// Inside a user namespace mknod is not allowed, so they are bound from the host there.
    static let defaultDevices: [(path: String, major: UInt64, minor: UInt64)] = [
        ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
        ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
    ]
    static let defaultSymlinks: [(target: String, link: String)] = [
        ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"), ("pts/ptmx", "/dev/ptmx"),
    ]

    /// `inUserNamespace`: the container creates or joins a user namespace.
    static func steps(for config: RuntimeConfig, bundleDirectory: String, configFile: String,
                      cgroupView: CgroupView, inUserNamespace: Bool) throws(IsorunError) -> [SpawnPlan.MountStep] {
        var steps: [SpawnPlan.MountStep] = []
        for (index, mount) in (config.mounts ?? []).enumerated() {
            steps += try self.steps(for: mount, index: index, bundleDirectory: bundleDirectory,
                                    configFile: configFile, cgroupView: cgroupView, linux: config.linux)
        }
        let configured = config.linux?.devices ?? []
        for device in defaultDevices where !configured.contains(where: { $0.path == device.path }) {
            let onHost = Files.exists(device.path)
            if inUserNamespace {
                if onHost { steps.append(.init(kind: .bind, source: device.path, target: device.path, targetIsFile: true)) }
                continue
            }
            // The host's node stays the fallback should mknod be refused after all.
            var step = SpawnPlan.MountStep(kind: .device, source: onHost ? device.path : nil, target: device.path)
            step.device = .init(mode: UInt32(S_IFCHR) | 0o666, number: UInt64(DeviceNumber.make(major: device.major, minor: device.minor)),
                                uid: 0, gid: 0, existingMustMatch: false)
            steps.append(step)
        }
        steps += configured.map(deviceStep)
        for (target, link) in defaultSymlinks {
            steps.append(.init(kind: .symlink, source: target, target: link))
        }
        return steps
    }

    /// A `linux.devices` entry (validated: type is c, u, b or p; numbers present but for p).
    static func deviceStep(_ device: Device) -> SpawnPlan.MountStep {
        let typeBits: UInt32 = switch device.type {
        case "b": UInt32(S_IFBLK)
        case "p": UInt32(S_IFIFO)
        default: UInt32(S_IFCHR)
        }
        let number = UInt64(DeviceNumber.make(major: UInt64(device.major ?? 0), minor: UInt64(device.minor ?? 0)))
        var step = SpawnPlan.MountStep(kind: .device, source: Files.exists(device.path) ? device.path : nil, target: device.path)
        step.device = .init(mode: typeBits | (device.fileMode ?? 0o666) & 0o7777, number: number,
                            uid: device.uid ?? 0, gid: device.gid ?? 0, existingMustMatch: true)
        return step
    }

    static func steps(for mount: Mount, index: Int, bundleDirectory: String, configFile: String,
                      cgroupView: CgroupView, linux: Linux? = nil) throws(IsorunError) -> [SpawnPlan.MountStep] {
        let options = MountOptions(mount.options ?? [])
        let type = mount.type ?? (options.isBind ? "bind" : "")
        let idmap = try self.idmap(of: mount, options: options, linux: linux, at: "\(configFile): mounts[\(index)]")
        if idmap != nil && !(options.isBind || type == "bind") {
            throw IsorunError("\(configFile): mounts[\(index)]: idmapped mounts are bind mounts here; \(quotedType(type)) is not one")
        }
        if options.copyUp && type != "tmpfs" {
            throw IsorunError("\(configFile): mounts[\(index)].options: tmpcopyup is for a tmpfs; \(quotedType(type)) is not one")
        }
        if type == "cgroup" || type == "cgroup2" {
            return cgroupSteps(destination: mount.destination, readOnly: options.flags & UInt(MS_RDONLY) != 0, view: cgroupView)
        }
        if var step = try bindStep(for: mount, options: options, index: index, bundleDirectory: bundleDirectory,
                                   configFile: configFile) {
            step.idmap = idmap
            return [step]
        }
        guard !type.isEmpty else {
            throw IsorunError("\(configFile): mounts[\(index)].type: missing filesystem type")
        }
        var step = SpawnPlan.MountStep(kind: .filesystem, source: mount.source ?? type, target: mount.destination, fstype: type,
                                       flags: options.flags, propagation: options.propagation,
                                       data: options.data.isEmpty ? nil : options.data.joinedWithoutLookup(separator: ","))
        (step.recursiveSet, step.recursiveClear) = (options.recursiveSet, options.recursiveClear)
        step.copyUp = options.copyUp
        return [step]
    }

    /// `options` for a filesystem mounted fresh with nothing below it (a VM's tmpfs): a
    /// recursive option as its plain counterpart (`rro` as `ro`), and without the options
    /// that clear a flag or set propagation, which such a mount starts without anyway.
    public static func freshMountOptions(_ options: [String]) -> [String] {
        options.compactMap { option -> String? in
            let plain = MountOptions.recursive.contains { $0.key == option } ? String(option.dropFirst()) : option
            let clears = MountOptions.clearing.contains { $0.key == plain } || MountOptions.propagations.contains { $0.key == plain }
            return clears || ["bind", "rbind", "defaults", "notmpcopyup"].contains(plain) ? nil : plain
        }
    }

    /// The recursive attribute `rro` sets (MOUNT_ATTR_RDONLY).
    public static let recursiveReadOnly = MountAttribute.readOnly

    /// A bind mount of the bundle's as a step whose target is its destination in the
    /// container, nil for any other mount. The VM mode shares these with its guest.
    public static func bindStep(for mount: Mount, index: Int, bundleDirectory: String,
                                configFile: String) throws(IsorunError) -> SpawnPlan.MountStep? {
        try bindStep(for: mount, options: MountOptions(mount.options ?? []), index: index,
                     bundleDirectory: bundleDirectory, configFile: configFile)
    }

    private static func bindStep(for mount: Mount, options: MountOptions, index: Int, bundleDirectory: String,
                                 configFile: String) throws(IsorunError) -> SpawnPlan.MountStep? {
        guard options.isBind || mount.type == "bind" else { return nil }
        guard var source = mount.source, !source.isEmpty else {
            throw IsorunError("\(configFile): mounts[\(index)].source: a bind mount needs a source")
        }
        if !source.hasPrefix("/") { source = "\(bundleDirectory)/\(source)" }
        guard Files.exists(source) else {
            throw IsorunError("\(configFile): mounts[\(index)].source: \(source) does not exist")
        }
        var step = SpawnPlan.MountStep(kind: .bind, source: source, target: mount.destination,
                                       flags: options.isRecursive ? UInt(MS_REC) : 0, propagation: options.propagation,
                                       remountFlags: options.flags & ~UInt(MS_REMOUNT), targetIsFile: !Files.isDirectory(source))
        (step.recursiveSet, step.recursiveClear) = (options.recursiveSet, options.recursiveClear)
        return step
    }

    /// The owner mappings of an idmapped mount: the mount's own `uidMappings`/`gidMappings`,
    /// or with only an `idmap` (`ridmap`) option the container's user namespace mappings, as
    /// Kubernetes' user-namespaced pods ask for their volumes. Nil for a plain mount.
    static func idmap(of mount: Mount, options: MountOptions, linux: Linux?, at field: String) throws(IsorunError) -> SpawnPlan.MountStep.IDMap? {
        let own = !(mount.uidMappings ?? []).isEmpty || !(mount.gidMappings ?? []).isEmpty
        guard own || options.isIdmapped else { return nil }
        let uids = own ? mount.uidMappings ?? [] : linux?.uidMappings ?? []
        let gids = own ? mount.gidMappings ?? [] : linux?.gidMappings ?? []
        guard !uids.isEmpty && !gids.isEmpty else {
            throw IsorunError(own ? "\(field): an idmapped mount needs both uidMappings and gidMappings"
                                  : "\(field).options: idmap without mappings of its own takes the container's, and linux.uidMappings or linux.gidMappings is empty")
        }
        func lines(_ mappings: [IDMapping]) -> String {
            mappings.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
        }
        return .init(uidMap: lines(uids), gidMap: lines(gids), recursive: options.isRecursivelyIdmapped)
    }

    private static func quotedType(_ type: String) -> String { type.isEmpty ? "a mount without a type" : "type '\(type)'" }

    /// A `cgroup` mount shows the workload its own cgroup and nothing above it:
    /// cgroup2 on v2; on v1 a tmpfs holding one mount per controller hierarchy.
    static func cgroupSteps(destination: String, readOnly: Bool, view: CgroupView) -> [SpawnPlan.MountStep] {
        let common = UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC) | (readOnly ? UInt(MS_RDONLY) : 0)
        let tmpfs = SpawnPlan.MountStep(kind: .filesystem, source: "tmpfs", target: destination, fstype: "tmpfs",
                                        flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), data: "mode=755")
        // The tmpfs takes its mount points writable; a read-only mount is read-only once they are in.
        let sealed = readOnly
            ? [SpawnPlan.MountStep(kind: .filesystem, source: nil, target: destination, flags: UInt(MS_REMOUNT | MS_BIND) | common)]
            : []
        switch view {
        case .namespaced(.unified, _):
            return [.init(kind: .filesystem, source: "cgroup2", target: destination, fstype: "cgroup2", flags: common)]
        case .namespaced(.legacy(let root, _), let own):
            var steps = [tmpfs]
            for hierarchy in (try? Files.list(root))?.sorted() ?? [] {
                let hostPath = "\(root)/\(hierarchy)"
                guard own.contains(where: { $0.hasPrefix(hostPath + "/") }) else { continue }
                guard Files.filesystemMagic(hostPath) == Files.cgroup1Magic else { continue }
                let data = hierarchy == "systemd" ? "none,name=systemd" : hierarchy
                steps.append(.init(kind: .filesystem, source: "cgroup", target: "\(destination)/\(hierarchy)",
                                   fstype: "cgroup", flags: common, data: data))
            }
            return steps + sealed
        case .bindings(let directories):
            // v2: the one directory is the whole view. v1: one per controller, by name.
            if directories.count == 1, Files.filesystemMagic(directories[0]) == Files.cgroup2Magic {
                return [.init(kind: .bind, source: directories[0], target: destination, remountFlags: common)]
            }
            return [tmpfs] + directories.map { directory in
                let controller = directory.split(separator: "/").dropFirst(3).first.map(String.init) ?? "unknown"
                return .init(kind: .bind, source: directory, target: "\(destination)/\(controller)", remountFlags: common)
            } + sealed
        }
    }
}
