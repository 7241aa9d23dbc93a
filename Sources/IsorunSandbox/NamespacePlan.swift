import Glibc
import IsorunCore
import IsorunSpec
import IsorunSys

/// `linux.namespaces` turned into clone flags, namespaces to join, and the
/// parent's part of a user namespace (the id maps).
public struct NamespacePlan {
    var cloneFlags: Int32 = 0
    var unshareCgroup = false
    /// A new IPC namespace made by the child as root of its new user namespace (see init).
    var unshareIPC = false
    /// A new time namespace: unshared by the child, entered by the workload at execve.
    var unshareTime = false
    var joins: [(fd: Int32, type: Int32)] = []
    /// A PID namespace to join: setns() applies to the children of the caller, so
    /// the supervisor joins it just before clone.
    var pidNamespaceToJoin: Int32?
    var createsPidNamespace: Bool { cloneFlags & NamespaceFlags.pid != 0 }
    var createsNetworkNamespace: Bool { cloneFlags & NamespaceFlags.network != 0 }
    var createsUserNamespace: Bool { cloneFlags & NamespaceFlags.user != 0 }

    static func flag(for type: NamespaceType) -> Int32 {
        switch type {
        case .pid: NamespaceFlags.pid
        case .network: NamespaceFlags.network
        case .mount: NamespaceFlags.mount
        case .ipc: NamespaceFlags.ipc
        case .uts: NamespaceFlags.uts
        case .user: NamespaceFlags.user
        case .cgroup: NamespaceFlags.cgroup
        case .time: NamespaceFlags.time
        }
    }

    init(_ linux: Linux?, configFile: String) throws(IsorunError) {
        for (index, namespace) in (linux?.namespaces ?? []).enumerated() {
            let flag = NamespacePlan.flag(for: namespace.type)
            if let path = namespace.path, !path.isEmpty {
                let fd: Int32
                do { fd = try Files.openForReading(path) } catch {
                    throw IsorunError("\(configFile): linux.namespaces[\(index)].path: \(error)")
                }
                if namespace.type == .pid {
                    pidNamespaceToJoin = fd
                } else if namespace.type == .user {
                    joins.insert((fd, flag), at: 0)  // join the owner first, as setns(2) requires
                } else {
                    joins.append((fd, flag))
                }
            } else if namespace.type == .time {
                // clone(2) has no room for CLONE_NEWTIME; unshare(2) it is.
                unshareTime = true
            } else if namespace.type == .cgroup {
                // Unshared after the parent placed the child in its cgroup, so the
                // namespace's root is the workload's own cgroup.
                unshareCgroup = true
            } else {
                cloneFlags |= flag
            }
        }
        if createsUserNamespace && (linux?.uidMappings ?? []).isEmpty {
            throw IsorunError("\(configFile): linux.uidMappings: a new user namespace needs uid and gid mappings")
        }
        // An IPC namespace's message-queue filesystem belongs to whoever makes it. Made by the
        // clone, that is the host's root, whom the container sees as nobody (its /dev/mqueue
        // was nobody's); made by the child once it is root of its user namespace, it is the
        // container's root's, as under runc.
        if createsUserNamespace && cloneFlags & NamespaceFlags.ipc != 0 {
            cloneFlags &= ~NamespaceFlags.ipc
            unshareIPC = true
        }
    }

    func closeDescriptors() {
        for join in joins { close(join.fd) }
        if let pidNamespaceToJoin { close(pidNamespaceToJoin) }
    }

    /// The parent's part of a new user namespace: /proc/<pid>/{uid,gid}_map. Rootless, the
    /// kernel takes only a map of the caller's own uid and gid, and the gid map only once
    /// the namespace may not call setgroups(2) (see `deniesSetgroups`); any other map goes
    /// through the setuid newuidmap and newgidmap, which check it against /etc/subuid and
    /// /etc/subgid.
    static func writeIDMaps(pid: pid_t, linux: Linux, configFile: String) throws(IsorunError) {
        func render(_ mappings: [IDMapping]) -> String {
            mappings.map { "\($0.containerID) \($0.hostID) \($0.size)" }.joined(separator: "\n") + "\n"
        }
        if HostProcess.isRootless && !mapsOwnIDsOnly(linux) {
            for (tool, mappings) in [("newuidmap", linux.uidMappings ?? []), ("newgidmap", linux.gidMappings ?? [])] {
                let arguments = [tool, String(pid)] + mappings.flatMap { [String($0.containerID), String($0.hostID), String($0.size)] }
                let (status, complaint) = HostCommand.run(arguments)
                guard status == 0 else {
                    throw IsorunError("\(configFile): linux.\(tool == "newuidmap" ? "uidMappings" : "gidMappings"): \(tool) refused the map (status \(status)): \(complaint)")
                }
            }
            return
        }
        try writeMaps(pid: pid, uidMap: render(linux.uidMappings ?? []), gidMap: render(linux.gidMappings ?? []),
                      denyingSetgroups: deniesSetgroups(linux))
    }

    /// A rootless helper's user namespace (QEMU's, to make its mounts): the caller's own uid
    /// and gid as root, setgroups(2) denied as the kernel requires for such a gid map.
    public static func mapCallerToRoot(pid: pid_t) throws(IsorunError) {
        try writeMaps(pid: pid, uidMap: "0 \(HostProcess.userID) 1\n", gidMap: "0 \(HostProcess.groupID) 1\n", denyingSetgroups: true)
    }

    /// The kernel's order: setgroups first (a gid map of an unprivileged writer needs it denied).
    private static func writeMaps(pid: pid_t, uidMap: String, gidMap: String, denyingSetgroups: Bool) throws(IsorunError) {
        do {
            if denyingSetgroups { try Files.write("/proc/\(pid)/setgroups", "deny") }
            try Files.write("/proc/\(pid)/uid_map", uidMap)
            try Files.write("/proc/\(pid)/gid_map", gidMap)
        } catch {
            throw IsorunError("write id mappings", error)
        }
    }

    /// `process.user.additionalGids` in a user namespace that denies setgroups(2): a 125,
    /// as the groups could not be set (for the container's process and `exec` alike).
    static func refuseAdditionalGroups(of process: Process, configFile: String) throws(IsorunError) {
        if let groups = process.user?.additionalGids, !groups.isEmpty {
            throw IsorunError("\(configFile): process.user.additionalGids: the container's user namespace may not set groups (setgroups is denied in it)")
        }
    }

    /// True for a rootless run's own user namespace, whose only map is the caller's ids:
    /// there setgroups(2) is denied, as the kernel requires before an unprivileged gid map,
    /// and the process keeps the groups it has.
    static func deniesSetgroups(_ linux: Linux?) -> Bool {
        HostProcess.isRootless && createsUserNamespace(linux) && mapsOwnIDsOnly(linux)
    }

    private static func createsUserNamespace(_ linux: Linux?) -> Bool {
        linux?.namespaces?.contains { $0.type == .user && ($0.path ?? "").isEmpty } == true
    }

    /// One uid and one gid mapped, the caller's own: the map an unprivileged user may write.
    private static func mapsOwnIDsOnly(_ linux: Linux?) -> Bool {
        func own(_ mappings: [IDMapping]?, _ id: UInt32) -> Bool {
            mappings?.count == 1 && mappings?.first?.hostID == id && mappings?.first?.size == 1
        }
        return own(linux?.uidMappings, HostProcess.userID) && own(linux?.gidMappings, HostProcess.groupID)
    }

    /// Whether the process must keep its groups: its new user namespace denies setgroups(2)
    /// (above), or, without one, isorun's own does (a user namespace made with
    /// `unshare --map-root-user`, as podman's rootless mode runs its runtime in).
    static func keepsGroups(_ linux: Linux?) -> Bool {
        if deniesSetgroups(linux) { return true }
        guard HostProcess.isRootless, linux?.namespaces?.contains(where: { $0.type == .user }) != true else { return false }
        return (try? Files.readString("/proc/self/setgroups"))?.hasPrefix("deny") == true
    }

    /// What a rootless run's config needs for a new user namespace: a map of the caller's
    /// own uid and gid alone, or newuidmap and newgidmap for any other (the `uidmap`
    /// package; they check the ranges against /etc/subuid and /etc/subgid); and no
    /// additional groups where they cannot be set.
    static func checkRootlessMappings(_ linux: Linux?, process: Process, keepsGroups: Bool, configFile: String) throws(IsorunError) {
        if keepsGroups { try refuseAdditionalGroups(of: process, configFile: configFile) }
        guard HostProcess.isRootless, createsUserNamespace(linux), !mapsOwnIDsOnly(linux) else { return }
        for tool in ["newuidmap", "newgidmap"] where HostProcess.executableOnPath(tool) == nil {
            throw IsorunError("\(configFile): linux.uidMappings: isorun runs rootless (uid \(HostProcess.userID), gid \(HostProcess.groupID)); a map of more than its own ids needs \(tool) (apt install uidmap) and the user's ranges in /etc/subuid and /etc/subgid")
        }
    }
}
