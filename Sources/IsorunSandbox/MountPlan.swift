import Glibc
import IsorunCgroups
import IsorunCore
import IsorunSpec
import IsorunSys

/// The container's filesystem: the spec's `mounts` in order, then the default
/// devices and /dev symlinks every container gets (config-linux.md, "Default Devices").
enum MountPlan {
    /// Bound from the host rather than created with mknod, so they also work in a user namespace.
    static let defaultDevices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]
    static let defaultSymlinks: [(target: String, link: String)] = [
        ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"), ("pts/ptmx", "/dev/ptmx"),
    ]

    static func steps(for config: RuntimeConfig, bundleDirectory: String, configFile: String,
                      cgroupLayout: CgroupLayout?) throws(IsorunError) -> [SpawnPlan.MountStep] {
        var steps: [SpawnPlan.MountStep] = []
        for (index, mount) in (config.mounts ?? []).enumerated() {
            steps += try self.steps(for: mount, index: index, bundleDirectory: bundleDirectory,
                                    configFile: configFile, cgroupLayout: cgroupLayout)
        }
        for device in defaultDevices where Files.exists(device) {
            steps.append(.init(kind: .bind, source: device, target: device, targetIsFile: true))
        }
        for (target, link) in defaultSymlinks {
            steps.append(.init(kind: .symlink, source: target, target: link))
        }
        return steps
    }

    static func steps(for mount: Mount, index: Int, bundleDirectory: String, configFile: String,
                      cgroupLayout: CgroupLayout?) throws(IsorunError) -> [SpawnPlan.MountStep] {
        let options = MountOptions(mount.options ?? [])
        let type = mount.type ?? (options.isBind ? "bind" : "")
        if type == "cgroup" || type == "cgroup2" {
            return cgroupSteps(destination: mount.destination, readOnly: options.flags & UInt(MS_RDONLY) != 0, layout: cgroupLayout)
        }
        if options.isBind || type == "bind" {
            guard var source = mount.source, !source.isEmpty else {
                throw IsorunError("\(configFile): mounts[\(index)].source: a bind mount needs a source")
            }
            if !source.hasPrefix("/") { source = "\(bundleDirectory)/\(source)" }
            guard Files.exists(source) else {
                throw IsorunError("\(configFile): mounts[\(index)].source: \(source) does not exist")
            }
            let remount = options.flags & ~UInt(MS_REMOUNT)
            return [.init(kind: .bind, source: source, target: mount.destination,
                          flags: options.isRecursive ? UInt(MS_REC) : 0, propagation: options.propagation,
                          remountFlags: remount, targetIsFile: !Files.isDirectory(source))]
        }
        guard !type.isEmpty else {
            throw IsorunError("\(configFile): mounts[\(index)].type: missing filesystem type")
        }
        return [.init(kind: .filesystem, source: mount.source ?? type, target: mount.destination, fstype: type,
                      flags: options.flags, propagation: options.propagation,
                      data: options.data.isEmpty ? nil : options.data.joined(separator: ","))]
    }

    /// A `cgroup` mount shows the workload its own cgroup (the cgroup namespace's root):
    /// cgroup2 on v2; on v1 a tmpfs holding one mount per controller hierarchy.
    static func cgroupSteps(destination: String, readOnly: Bool, layout: CgroupLayout?) -> [SpawnPlan.MountStep] {
        let common = UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC) | (readOnly ? UInt(MS_RDONLY) : 0)
        switch layout {
        case .unified?:
            return [.init(kind: .filesystem, source: "cgroup2", target: destination, fstype: "cgroup2", flags: common)]
        case .legacy(let root, _)?:
            var steps: [SpawnPlan.MountStep] = [
                .init(kind: .filesystem, source: "tmpfs", target: destination, fstype: "tmpfs",
                      flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), data: "mode=755"),
            ]
            for hierarchy in (try? Files.list(root))?.sorted() ?? [] {
                let hostPath = "\(root)/\(hierarchy)"
                guard Files.filesystemMagic(hostPath) == Files.cgroup1Magic else { continue }
                let data = hierarchy == "systemd" ? "none,name=systemd" : hierarchy
                steps.append(.init(kind: .filesystem, source: "cgroup", target: "\(destination)/\(hierarchy)",
                                   fstype: "cgroup", flags: common, data: data))
            }
            return steps
        case nil:
            return []
        }
    }
}
