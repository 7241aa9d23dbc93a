/// Cgroup limits for the container.
public struct Resources: Sendable, Encodable, Equatable {
    /// Device access rules, applied in order.
    public var devices: [DeviceCgroupRule]?
    /// Memory controller settings.
    public var memory: MemoryResources?
    /// CPU and cpuset controller settings.
    public var cpu: CPUResources?
    /// Pids controller settings.
    public var pids: PidsResources?
    /// Raw cgroup v2 files to write, e.g. `"memory.high": "1G"`.
    public var unified: [String: String]?
    /// Block I/O weights and throttles.
    public var blockIO: BlockIOResources?
    /// Huge page limits per page size.
    public var hugepageLimits: [HugepageLimit]?
    /// Network class id and interface priorities (cgroup v1 net_cls, net_prio).
    public var network: NetworkResources?
    /// RDMA limits per device name (the rdma controller's `rdma.max`).
    public var rdma: [String: RdmaLimit]?

    /// Builds resources in code.
    public init(
        devices: [DeviceCgroupRule]? = nil,
        memory: MemoryResources? = nil,
        cpu: CPUResources? = nil,
        pids: PidsResources? = nil,
        unified: [String: String]? = nil
    ) {
        self.devices = devices
        self.memory = memory
        self.cpu = cpu
        self.pids = pids
        self.unified = unified
    }
}

extension Resources {
    /// The fields that set a limit or weight, which only a cgroup can carry out, by their
    /// names under `linux.resources`; `devices` is left out (see WorkloadCgroup), and so
    /// is an empty object or list, which asks for nothing.
    public var limitedFields: [String] {
        var fields: [String] = []
        if let memory, memory != MemoryResources() { fields.append("memory") }
        if let cpu, cpu != CPUResources() { fields.append("cpu") }
        if pids != nil { fields.append("pids") }
        if unified?.isEmpty == false { fields.append("unified") }
        if blockIO != nil { fields.append("blockIO") }
        if hugepageLimits?.isEmpty == false { fields.append("hugepageLimits") }
        if network != nil { fields.append("network") }
        if rdma?.isEmpty == false { fields.append("rdma") }
        return fields
    }
}

/// One device-cgroup allow/deny rule.
public struct DeviceCgroupRule: Sendable, Encodable, Equatable {
    /// Allow (true) or deny (false) the matching devices.
    public var allow: Bool
    /// `a` (all), `c` or `b`; nil means all.
    public var type: String?
    /// Major number; nil matches any.
    public var major: Int64?
    /// Minor number; nil matches any.
    public var minor: Int64?
    /// Any of `r`, `w`, `m`; nil means all three.
    public var access: String?

    /// Builds a rule in code.
    public init(allow: Bool, type: String? = nil, major: Int64? = nil, minor: Int64? = nil, access: String? = nil) {
        self.allow = allow
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access
    }
}

/// Memory limits in bytes; -1 means unlimited, as in the spec.
public struct MemoryResources: Sendable, Encodable, Equatable {
    /// Hard limit on memory use.
    public var limit: Int64?
    /// Soft limit (cgroup v2 `memory.low`-like behaviour).
    public var reservation: Int64?
    /// Limit on memory plus swap (not swap alone), hence at least `limit`.
    public var swap: Int64?
    /// Deprecated kernel-memory limit; decoded, not applied.
    public var kernel: Int64?
    /// Deprecated kernel TCP buffer limit; decoded, not applied.
    public var kernelTCP: Int64?
    /// Swap tendency, 0 to 100 (cgroup v1 only).
    public var swappiness: UInt64?
    /// Disable the OOM killer (cgroup v1 only).
    public var disableOOMKiller: Bool?
    /// Hierarchical accounting (cgroup v1 `memory.use_hierarchy`); kernels since 5.x and
    /// cgroup v2 are always hierarchical and refuse false.
    public var useHierarchy: Bool?
    /// On `update`, refuse a limit below what the container uses now (which cgroup v1's
    /// kernel refuses anyway, and v2's would answer with the OOM killer).
    public var checkBeforeUpdate: Bool?

    /// Builds memory limits in code.
    public init(
        limit: Int64? = nil,
        reservation: Int64? = nil,
        swap: Int64? = nil,
        kernel: Int64? = nil,
        kernelTCP: Int64? = nil,
        swappiness: UInt64? = nil,
        disableOOMKiller: Bool? = nil,
        useHierarchy: Bool? = nil,
        checkBeforeUpdate: Bool? = nil
    ) {
        self.useHierarchy = useHierarchy
        self.checkBeforeUpdate = checkBeforeUpdate
        self.limit = limit
        self.reservation = reservation
        self.swap = swap
        self.kernel = kernel
        self.kernelTCP = kernelTCP
        self.swappiness = swappiness
        self.disableOOMKiller = disableOOMKiller
    }
}

/// CPU bandwidth, weight and placement.
public struct CPUResources: Sendable, Encodable, Equatable {
    /// Relative weight (cgroup v1 `cpu.shares`).
    public var shares: UInt64?
    /// Microseconds of CPU time per `period`; -1 means unlimited.
    public var quota: Int64?
    /// Extra microseconds that may be borrowed from unused quota.
    public var burst: UInt64?
    /// Length of the quota period in microseconds.
    public var period: UInt64?
    /// Real-time runtime in microseconds.
    public var realtimeRuntime: Int64?
    /// Real-time period in microseconds.
    public var realtimePeriod: UInt64?
    /// CPU list for cpuset, e.g. `0-3,6`.
    public var cpus: String?
    /// Memory-node list for cpuset.
    public var mems: String?
    /// cgroup v2 `cpu.idle`: 1 makes the group idle-priority.
    public var idle: Int64?

    /// Builds CPU settings in code.
    public init(
        shares: UInt64? = nil,
        quota: Int64? = nil,
        burst: UInt64? = nil,
        period: UInt64? = nil,
        realtimeRuntime: Int64? = nil,
        realtimePeriod: UInt64? = nil,
        cpus: String? = nil,
        mems: String? = nil,
        idle: Int64? = nil
    ) {
        self.shares = shares
        self.quota = quota
        self.burst = burst
        self.period = period
        self.realtimeRuntime = realtimeRuntime
        self.realtimePeriod = realtimePeriod
        self.cpus = cpus
        self.mems = mems
        self.idle = idle
    }
}

/// Process-count limit.
public struct PidsResources: Sendable, Encodable, Equatable {
    /// Maximum number of tasks; 0 or -1 means unlimited.
    public var limit: Int64

    /// Builds a pids limit in code.
    public init(limit: Int64) {
        self.limit = limit
    }
}

/// blkio (v1) / io (v2) settings.
public struct BlockIOResources: Sendable, Encodable, Equatable {
    public struct WeightDevice: Sendable, Encodable, Equatable {
        public var major: Int64
        public var minor: Int64
        public var weight: UInt16?
        public var leafWeight: UInt16?
    }
    public struct ThrottleDevice: Sendable, Encodable, Equatable {
        public var major: Int64
        public var minor: Int64
        public var rate: UInt64
    }
    public var weight: UInt16?
    public var leafWeight: UInt16?
    public var weightDevice: [WeightDevice]?
    public var throttleReadBpsDevice: [ThrottleDevice]?
    public var throttleWriteBpsDevice: [ThrottleDevice]?
    public var throttleReadIOPSDevice: [ThrottleDevice]?
    public var throttleWriteIOPSDevice: [ThrottleDevice]?
}

extension BlockIOResources {
    /// Builds block I/O settings in code (`update --blkio-weight`). In an extension, so the
    /// memberwise initializer the decoder uses stays.
    public init(weight: UInt16?) {
        self.init(weight: weight, leafWeight: nil, weightDevice: nil, throttleReadBpsDevice: nil,
                  throttleWriteBpsDevice: nil, throttleReadIOPSDevice: nil, throttleWriteIOPSDevice: nil)
    }
}

/// A limit on one huge page size, e.g. `2MB`.
public struct HugepageLimit: Sendable, Encodable, Equatable {
    public var pageSize: String
    public var limit: UInt64
}

/// The most verbs handles and objects a container may hold on one RDMA device.
public struct RdmaLimit: Sendable, Encodable, Equatable {
    public var hcaHandles: UInt32?
    public var hcaObjects: UInt32?
    public init(hcaHandles: UInt32? = nil, hcaObjects: UInt32? = nil) {
        self.hcaHandles = hcaHandles
        self.hcaObjects = hcaObjects
    }

    /// The line rdma.max takes for `device` (v1 and v2 alike).
    public func line(for device: String) -> String {
        var line = device
        if let hcaHandles { line += " hca_handle=\(hcaHandles)" }
        if let hcaObjects { line += " hca_object=\(hcaObjects)" }
        return line
    }
}

/// net_cls class id and net_prio interface priorities.
public struct NetworkResources: Sendable, Encodable, Equatable {
    public struct InterfacePriority: Sendable, Encodable, Equatable {
        public var name: String
        public var priority: UInt32
    }
    public var classID: UInt32?
    public var priorities: [InterfacePriority]?
}

// MARK: Reading from JSON

extension Resources {
    /// Also reads `isorun update --resources FILE`, which is this object on its own.
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            devices: try o.optional("devices", JSONRead.objects(DeviceCgroupRule.init(json:))),
            memory: try o.optional("memory", MemoryResources.init(json:)),
            cpu: try o.optional("cpu", CPUResources.init(json:)),
            pids: try o.optional("pids", PidsResources.init(json:)),
            unified: try o.optional("unified", JSONRead.stringMap)
        )
        blockIO = try o.optional("blockIO", BlockIOResources.init(json:))
        hugepageLimits = try o.optional("hugepageLimits", JSONRead.objects(HugepageLimit.init(json:)))
        network = try o.optional("network", NetworkResources.init(json:))
        rdma = try o.optional("rdma", JSONRead.objectMap(RdmaLimit.init(json:)))
    }
}

extension RdmaLimit {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(hcaHandles: try o.optional("hcaHandles", JSONRead.integer(UInt32.self)),
                  hcaObjects: try o.optional("hcaObjects", JSONRead.integer(UInt32.self)))
    }
}

extension DeviceCgroupRule {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            allow: try o.required("allow", JSONRead.bool),
            type: try o.optional("type", JSONRead.string),
            major: try o.optional("major", JSONRead.integer(Int64.self)),
            minor: try o.optional("minor", JSONRead.integer(Int64.self)),
            access: try o.optional("access", JSONRead.string)
        )
    }
}

extension MemoryResources {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            limit: try o.optional("limit", JSONRead.integer(Int64.self)),
            reservation: try o.optional("reservation", JSONRead.integer(Int64.self)),
            swap: try o.optional("swap", JSONRead.integer(Int64.self)),
            kernel: try o.optional("kernel", JSONRead.integer(Int64.self)),
            kernelTCP: try o.optional("kernelTCP", JSONRead.integer(Int64.self)),
            swappiness: try o.optional("swappiness", JSONRead.integer(UInt64.self)),
            disableOOMKiller: try o.optional("disableOOMKiller", JSONRead.bool),
            useHierarchy: try o.optional("useHierarchy", JSONRead.bool),
            checkBeforeUpdate: try o.optional("checkBeforeUpdate", JSONRead.bool)
        )
    }
}

extension CPUResources {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            shares: try o.optional("shares", JSONRead.integer(UInt64.self)),
            quota: try o.optional("quota", JSONRead.integer(Int64.self)),
            burst: try o.optional("burst", JSONRead.integer(UInt64.self)),
            period: try o.optional("period", JSONRead.integer(UInt64.self)),
            realtimeRuntime: try o.optional("realtimeRuntime", JSONRead.integer(Int64.self)),
            realtimePeriod: try o.optional("realtimePeriod", JSONRead.integer(UInt64.self)),
            cpus: try o.optional("cpus", JSONRead.string),
            mems: try o.optional("mems", JSONRead.string),
            idle: try o.optional("idle", JSONRead.integer(Int64.self))
        )
    }
}

extension PidsResources {
    package init(json node: JSONNode) throws(JSONFieldError) {
        self.init(limit: try node.object().required("limit", JSONRead.integer(Int64.self)))
    }
}

extension BlockIOResources {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            weight: try o.optional("weight", JSONRead.integer(UInt16.self)),
            leafWeight: try o.optional("leafWeight", JSONRead.integer(UInt16.self)),
            weightDevice: try o.optional("weightDevice", JSONRead.objects(WeightDevice.init(json:))),
            throttleReadBpsDevice: try o.optional("throttleReadBpsDevice", JSONRead.objects(ThrottleDevice.init(json:))),
            throttleWriteBpsDevice: try o.optional("throttleWriteBpsDevice", JSONRead.objects(ThrottleDevice.init(json:))),
            throttleReadIOPSDevice: try o.optional("throttleReadIOPSDevice", JSONRead.objects(ThrottleDevice.init(json:))),
            throttleWriteIOPSDevice: try o.optional("throttleWriteIOPSDevice", JSONRead.objects(ThrottleDevice.init(json:)))
        )
    }
}

extension BlockIOResources.WeightDevice {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            major: try o.required("major", JSONRead.integer(Int64.self)),
            minor: try o.required("minor", JSONRead.integer(Int64.self)),
            weight: try o.optional("weight", JSONRead.integer(UInt16.self)),
            leafWeight: try o.optional("leafWeight", JSONRead.integer(UInt16.self))
        )
    }
}

extension BlockIOResources.ThrottleDevice {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            major: try o.required("major", JSONRead.integer(Int64.self)),
            minor: try o.required("minor", JSONRead.integer(Int64.self)),
            rate: try o.required("rate", JSONRead.integer(UInt64.self))
        )
    }
}

extension HugepageLimit {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            pageSize: try o.required("pageSize", JSONRead.string),
            limit: try o.required("limit", JSONRead.integer(UInt64.self))
        )
    }
}

extension NetworkResources {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            classID: try o.optional("classID", JSONRead.integer(UInt32.self)),
            priorities: try o.optional("priorities", JSONRead.objects(InterfacePriority.init(json:)))
        )
    }
}

extension NetworkResources.InterfacePriority {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            name: try o.required("name", JSONRead.string),
            priority: try o.required("priority", JSONRead.integer(UInt32.self))
        )
    }
}
