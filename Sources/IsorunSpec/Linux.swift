/// The `linux` section: everything the sandbox mode sets up around the process.
public struct Linux: Sendable, Encodable, Equatable {
    /// Namespaces to create (no `path`) or join (`path`).
    public var namespaces: [Namespace]?
    /// User-namespace UID map; needs a `user` namespace.
    public var uidMappings: [IDMapping]?
    /// User-namespace GID map; needs a `user` namespace.
    public var gidMappings: [IDMapping]?
    /// Device nodes to create in the container's `/dev`.
    public var devices: [Device]?
    /// Cgroup path, absolute or relative to the runtime's cgroup root.
    public var cgroupsPath: String?
    /// Cgroup limits.
    public var resources: Resources?
    /// Propagation of the root mount: `private`, `slave`, `shared`, `unbindable` (optionally `r`-prefixed).
    public var rootfsPropagation: String?
    /// System-call filter.
    public var seccomp: Seccomp?
    /// Kernel parameters written under `/proc/sys`, keyed like `net.ipv4.ip_forward`.
    public var sysctl: [String: String]?
    /// Paths hidden from the container (over-mounted so they read as empty).
    public var maskedPaths: [String]?
    /// Paths re-mounted read-only inside the container.
    public var readonlyPaths: [String]?
    /// SELinux context for the container's mounts.
    public var mountLabel: String?
    /// Execution domain (`personality(2)`), e.g. to run 32-bit programs.
    public var personality: Personality?
    /// Clock offsets of a new time namespace, keyed by clock (`monotonic`, `boottime`).
    public var timeOffsets: [String: TimeOffset]?
    /// Intel RDT (resctrl) class of service; read so that it can be refused (validation).
    public var intelRdt: IntelRdt?
    /// NUMA memory policy of the container's process (runtime-spec 1.3).
    public var memoryPolicy: MemoryPolicy?
    /// Host network devices to move into the container's network namespace, keyed by
    /// their host name (runtime-spec 1.3).
    public var netDevices: [String: NetDevice]?

    /// Builds a Linux section in code.
    public init(
        namespaces: [Namespace]? = nil,
        uidMappings: [IDMapping]? = nil,
        gidMappings: [IDMapping]? = nil,
        devices: [Device]? = nil,
        cgroupsPath: String? = nil,
        resources: Resources? = nil,
        rootfsPropagation: String? = nil,
        seccomp: Seccomp? = nil,
        sysctl: [String: String]? = nil,
        maskedPaths: [String]? = nil,
        readonlyPaths: [String]? = nil,
        mountLabel: String? = nil,
        personality: Personality? = nil,
        timeOffsets: [String: TimeOffset]? = nil
    ) {
        self.namespaces = namespaces
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
        self.devices = devices
        self.cgroupsPath = cgroupsPath
        self.resources = resources
        self.rootfsPropagation = rootfsPropagation
        self.seccomp = seccomp
        self.sysctl = sysctl
        self.maskedPaths = maskedPaths
        self.readonlyPaths = readonlyPaths
        self.mountLabel = mountLabel
        self.personality = personality
        self.timeOffsets = timeOffsets
    }

    /// The entry for namespace type `t`, if any. Validation rejects duplicates,
    /// so the first match is the only one in a validated config.
    public func namespace(_ t: NamespaceType) -> Namespace? {
        namespaces?.first { $0.type == t }
    }
}

/// One namespace to create or join.
public struct Namespace: Sendable, Encodable, Equatable {
    /// Which kind of namespace.
    public var type: NamespaceType
    /// When set, join the namespace at this absolute path (e.g. `/proc/1234/ns/net`) instead of creating one.
    public var path: String?

    /// Builds a namespace entry in code.
    public init(type: NamespaceType, path: String? = nil) {
        self.type = type
        self.path = path
    }
}

/// The namespace kinds the spec defines. A typed enum (rather than a string) lets
/// the sandbox switch over them exhaustively; unknown values fail decoding with a
/// message that lists the valid ones.
public enum NamespaceType: String, Sendable, Encodable, Equatable, CaseIterable {
    case pid, network, mount, ipc, uts, user, cgroup, time
}

/// A device node to create inside the container.
public struct Device: Sendable, Encodable, Equatable {
    /// `c` (character), `b` (block), `u` (unbuffered character) or `p` (FIFO).
    public var type: String
    /// Absolute path inside the container.
    public var path: String
    /// Major number; required for every type except `p`.
    public var major: Int64?
    /// Minor number; required for every type except `p`.
    public var minor: Int64?
    /// Permission bits of the node.
    public var fileMode: UInt32?
    /// Owner of the node.
    public var uid: UInt32?
    /// Group of the node.
    public var gid: UInt32?

    /// Builds a device in code.
    public init(
        type: String,
        path: String,
        major: Int64? = nil,
        minor: Int64? = nil,
        fileMode: UInt32? = nil,
        uid: UInt32? = nil,
        gid: UInt32? = nil
    ) {
        self.type = type
        self.path = path
        self.major = major
        self.minor = minor
        self.fileMode = fileMode
        self.uid = uid
        self.gid = gid
    }
}

/// `linux.intelRdt`: a resctrl class of service for the container's processes.
public struct IntelRdt: Sendable, Encodable, Equatable {
    public var closID: String?
    public var l3CacheSchema: String?
    public var memBwSchema: String?
    public var schemata: String?
    public var enableCMT: Bool?
    public var enableMBM: Bool?

    public init(closID: String? = nil, l3CacheSchema: String? = nil, memBwSchema: String? = nil, schemata: String? = nil,
                enableCMT: Bool? = nil, enableMBM: Bool? = nil) {
        self.closID = closID
        self.l3CacheSchema = l3CacheSchema
        self.memBwSchema = memBwSchema
        self.schemata = schemata
        self.enableCMT = enableCMT
        self.enableMBM = enableMBM
    }

    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(closID: try o.optional("closID", JSONRead.string), l3CacheSchema: try o.optional("l3CacheSchema", JSONRead.string),
                  memBwSchema: try o.optional("memBwSchema", JSONRead.string), schemata: try o.optional("schemata", JSONRead.string),
                  enableCMT: try o.optional("enableCMT", JSONRead.bool), enableMBM: try o.optional("enableMBM", JSONRead.bool))
    }
}

/// Execution domain set with `personality(2)`.
public struct Personality: Sendable, Encodable, Equatable {
    /// `LINUX` or `LINUX32`.
    public var domain: String
    /// Extra personality flags; the spec defines none yet.
    public var flags: [String]?

    /// Builds a personality in code.
    public init(domain: String, flags: [String]? = nil) {
        self.domain = domain
        self.flags = flags
    }
}

/// How far one clock of a new time namespace runs ahead of (or, negative, behind) the host's.
public struct TimeOffset: Sendable, Encodable, Equatable {
    public var secs: Int64?
    public var nanosecs: UInt32?

    /// The clocks a time namespace offsets (time_namespaces(7)), with the ids
    /// /proc/PID/timens_offsets knows them by (CLOCK_MONOTONIC, CLOCK_BOOTTIME).
    public static let clocks: KeyValuePairs<String, Int32> = ["monotonic": 1, "boottime": 7]

    public init(secs: Int64? = nil, nanosecs: UInt32? = nil) {
        self.secs = secs
        self.nanosecs = nanosecs
    }

    /// `offsets` as /proc/PID/timens_offsets takes them, a line per clock ("1 S NS\n");
    /// nil when there are none. The sandbox's shim and the VM's init write the same.
    public static func timensLines(_ offsets: [String: TimeOffset]?) -> String? {
        guard let offsets, !offsets.isEmpty else { return nil }
        return clocks.compactMap { clock, id in
            offsets[clock].map { "\(id) \($0.secs ?? 0) \($0.nanosecs ?? 0)\n" }
        }.joined()
    }
}

// MARK: Reading from JSON

extension Linux {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            namespaces: try o.optional("namespaces", JSONRead.objects(Namespace.init(json:))),
            uidMappings: try o.optional("uidMappings", JSONRead.objects(IDMapping.init(json:))),
            gidMappings: try o.optional("gidMappings", JSONRead.objects(IDMapping.init(json:))),
            devices: try o.optional("devices", JSONRead.objects(Device.init(json:))),
            cgroupsPath: try o.optional("cgroupsPath", JSONRead.string),
            resources: try o.optional("resources", Resources.init(json:)),
            rootfsPropagation: try o.optional("rootfsPropagation", JSONRead.string),
            seccomp: try o.optional("seccomp", Seccomp.init(json:)),
            sysctl: try o.optional("sysctl", JSONRead.stringMap),
            maskedPaths: try o.optional("maskedPaths", JSONRead.strings),
            readonlyPaths: try o.optional("readonlyPaths", JSONRead.strings),
            mountLabel: try o.optional("mountLabel", JSONRead.string),
            personality: try o.optional("personality", Personality.init(json:)),
            timeOffsets: try o.optional("timeOffsets", JSONRead.objectMap(TimeOffset.init(json:)))
        )
        intelRdt = try o.optional("intelRdt", IntelRdt.init(json:))
        memoryPolicy = try o.optional("memoryPolicy", MemoryPolicy.init(json:))
        netDevices = try o.optional("netDevices", JSONRead.objectMap(NetDevice.init(json:)))
    }
}

extension Namespace {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            type: try o.required("type", NamespaceType.init(json:)),
            path: try o.optional("path", JSONRead.string)
        )
    }
}

extension NamespaceType {
    /// Reads the JSON string, naming the bad value and the valid ones on failure.
    package init(json node: JSONNode) throws(JSONFieldError) {
        let raw = try node.string()
        guard let value = NamespaceType(rawValue: raw) else {
            let valid = NamespaceType.allCases.map(\.rawValue).joined(separator: ", ")
            throw node.invalid("unknown namespace type \(quoted(raw)); valid types are \(valid)")
        }
        self = value
    }
}

extension Device {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            type: try o.required("type", JSONRead.string),
            path: try o.required("path", JSONRead.string),
            major: try o.optional("major", JSONRead.integer(Int64.self)),
            minor: try o.optional("minor", JSONRead.integer(Int64.self)),
            fileMode: try o.optional("fileMode", JSONRead.integer(UInt32.self)),
            uid: try o.optional("uid", JSONRead.integer(UInt32.self)),
            gid: try o.optional("gid", JSONRead.integer(UInt32.self))
        )
    }
}

extension TimeOffset {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(secs: try o.optional("secs", JSONRead.integer(Int64.self)),
                  nanosecs: try o.optional("nanosecs", JSONRead.integer(UInt32.self)))
    }
}

extension Personality {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            domain: try o.required("domain", JSONRead.string),
            flags: try o.optional("flags", JSONRead.strings)
        )
    }
}
