import IsorunSys

/// Which cgroup hierarchy the host has, detected from the filesystem at run time.
public enum CgroupLayout: Sendable, Equatable, CustomStringConvertible {
    /// Pure v2: one unified hierarchy at the mount point.
    case unified(mountPoint: String)
    /// v1 controllers, each at `<root>/<controller>`; `unifiedMountPoint` is the empty
    /// v2 tree of a hybrid host (systemd's "hybrid" mode), when present.
    case legacy(root: String, unifiedMountPoint: String?)

    public var description: String {
        switch self {
        case .unified: "v2"
        case .legacy(_, nil): "v1"
        case .legacy(_, .some): "hybrid (v1 controllers + empty v2)"
        }
    }

    /// This host's layout, detected once per process (a run asks several times).
    public static func host() throws(CgroupError) -> CgroupLayout { try hostLayout.get() }
    private static let hostLayout = Result { () throws(CgroupError) in try detect() }

    /// Reads the layout from statfs magic numbers, as systemd and youki do.
    public static func detect(root: String = "/sys/fs/cgroup") throws(CgroupError) -> CgroupLayout {
        guard let magic = Files.filesystemMagic(root) else {
            throw CgroupError("no cgroup filesystem at \(root)")
        }
        if magic == Files.cgroup2Magic { return .unified(mountPoint: root) }
        let unified = root + "/unified"
        let hybrid = Files.filesystemMagic(unified) == Files.cgroup2Magic ? unified : nil
        guard Files.filesystemMagic(root + "/pids") == Files.cgroup1Magic
                || Files.filesystemMagic(root + "/memory") == Files.cgroup1Magic else {
            throw CgroupError("\(root) holds neither cgroup v2 nor v1 controllers")
        }
        return .legacy(root: root, unifiedMountPoint: hybrid)
    }
}

/// A cgroup operation that failed, with the file or directory at fault.
public struct CgroupError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
    init(_ error: SystemError) { self.description = "cgroup: \(error)" }
}

