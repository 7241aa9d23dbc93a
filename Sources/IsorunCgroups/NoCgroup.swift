import Glibc
import IsorunSpec
import IsorunSys

/// The cgroup of a workload isorun may not give one: a rootless run where no cgroup is
/// delegated to the user, and the config asks for no limit. The workload stays in its
/// caller's cgroup; there is nothing to create, record, freeze or remove, and its
/// processes end with its PID namespace (or, without one, as a bare process's do).
public struct NoCgroup: CgroupManager {
    public init() {}

    public var directories: [String] { [] }
    public func create() throws(CgroupError) {}
    public func apply(_ resources: Resources) throws(CgroupError) {
        throw CgroupError("linux.resources: \(Self.reason)")
    }
    public func add(_ pid: pid_t) throws(CgroupError) {}
    public var directoryForNewProcesses: String? { nil }
    public var selfJoinTaskFiles: [String] { [] }
    public func processes() -> [pid_t] { [] }
    public func killAll() {}
    public func destroy() throws(CgroupError) {}
    public func setFrozen(_ frozen: Bool) throws(CgroupError) {
        throw CgroupError("pause needs the container's cgroup: \(Self.reason)")
    }
    public var freezerToAdd: String? { nil }
    public func addingFreezer(at directory: String) throws(CgroupError) -> any CgroupManager {
        throw CgroupError("pause needs the container's cgroup: \(Self.reason)")
    }
    public var isFrozen: Bool { false }
    public func limits() -> CgroupLimits { CgroupLimits() }
    public func statistics() -> CgroupStatistics { CgroupStatistics() }
    public func covering(_ resources: Resources) throws(CgroupError) -> any CgroupManager {
        throw CgroupError("linux.resources: \(Self.reason)")
    }

    static let reason = "the container has no cgroup (isorun runs rootless and may not create one here)"
}

extension Cgroups {
    /// Whether this process may make every one of `directories`: the nearest existing
    /// ancestor of each is writable to it. Root can (the kernel's checks then decide);
    /// a rootless user can only inside a cgroup delegated to it.
    public static func mayCreate(_ directories: [String]) -> Bool {
        directories.allSatisfy { directory in
            var path = directory
            while !Files.exists(path), let slash = path.lastIndex(of: "/"), slash > path.startIndex {
                path = String(path[..<slash])
            }
            return Files.isWritable(path)
        }
    }
}
