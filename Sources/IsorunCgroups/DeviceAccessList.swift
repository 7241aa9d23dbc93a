import IsorunSpec

/// What a cgroup's processes may do with device nodes, worked out from
/// `linux.resources.devices` the way cgroup v1's device controller does it.
///
/// On v1 isorun writes the rules to `devices.allow` / `devices.deny` and the kernel keeps
/// this list. cgroup v2 has no such files: it runs a BPF program on every open and mknod
/// of a device, so isorun computes the list itself and compiles it
/// (`DeviceFilterProgram`). The same rules therefore mean the same on both.
///
/// The v1 rules, as the kernel applies them one by one: a new cgroup allows everything;
/// a rule of type `a` (all devices; the kernel reads nothing after the `a`) sets that
/// default and forgets the exceptions; any other rule in the direction of the default
/// removes the access it names from an exception for exactly the same devices, and one
/// against it adds the exception. With default deny, a request is allowed when one exception grants all it
/// asks; with default allow, it is denied when an exception names any of it.
public struct DeviceAccessList: Sendable, Equatable {
    /// Bits of `BPF_DEVCG_ACC_*`, which also order v1's `m`, `r`, `w`.
    public struct Access: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let mknod = Access(rawValue: 1)
        public static let read = Access(rawValue: 2)
        public static let write = Access(rawValue: 4)
        public static let all: Access = [.mknod, .read, .write]

        /// "rwm" and any subset; nil means all three.
        init(_ text: String?) {
            guard let text else { self = .all; return }
            var access: Access = []
            if text.contains("m") { access.insert(.mknod) }
            if text.contains("r") { access.insert(.read) }
            if text.contains("w") { access.insert(.write) }
            self = access
        }
    }

    /// `BPF_DEVCG_DEV_BLOCK` and `BPF_DEVCG_DEV_CHAR`.
    public enum DeviceType: UInt32, Sendable {
        case block = 1
        case character = 2
    }

    /// Devices of one type, by number (nil: any), and what may or may not be done to them.
    public struct Exception: Sendable, Equatable {
        public var type: DeviceType
        public var major: UInt32?
        public var minor: UInt32?
        public var access: Access

        func names(_ type: DeviceType, _ major: UInt32, _ minor: UInt32) -> Bool {
            self.type == type && (self.major ?? major) == major && (self.minor ?? minor) == minor
        }
    }

    public private(set) var defaultAllows = true
    public private(set) var exceptions: [Exception] = []

    public init(rules: [DeviceCgroupRule]) {
        for rule in rules { apply(rule) }
    }

    /// Whether `access` to device `major:minor` of `type` is allowed.
    public func allows(_ type: DeviceType, _ major: UInt32, _ minor: UInt32, _ access: Access) -> Bool {
        let named = exceptions.filter { $0.names(type, major, minor) }
        if defaultAllows { return !named.contains { !$0.access.isDisjoint(with: access) } }
        return named.contains { $0.access.isSuperset(of: access) }
    }

    private mutating func apply(_ rule: DeviceCgroupRule) {
        let major = rule.major.flatMap { $0 < 0 ? nil : UInt32(truncatingIfNeeded: $0) }
        let minor = rule.minor.flatMap { $0 < 0 ? nil : UInt32(truncatingIfNeeded: $0) }
        let access = Access(rule.access)
        let type: DeviceType
        switch rule.type {
        case "c": type = .character
        case "b": type = .block
        default:
            // v1 reads only the `a` of such a rule ("a", "a *:* rwm", and "a 1:3 r" alike).
            defaultAllows = rule.allow
            exceptions = []
            return
        }
        let exception = Exception(type: type, major: major, minor: minor, access: access)
        if rule.allow == defaultAllows {
            remove(exception)
        } else {
            add(exception)
        }
    }

    private mutating func add(_ exception: Exception) {
        if let index = exceptions.firstIndex(where: { sameDevices($0, exception) }) {
            exceptions[index].access.formUnion(exception.access)
        } else {
            exceptions.append(exception)
        }
    }

    private mutating func remove(_ exception: Exception) {
        for index in exceptions.indices.reversed() where sameDevices(exceptions[index], exception) {
            exceptions[index].access.subtract(exception.access)
            if exceptions[index].access.isEmpty { exceptions.remove(at: index) }
        }
    }

    private func sameDevices(_ a: Exception, _ b: Exception) -> Bool {
        a.type == b.type && a.major == b.major && a.minor == b.minor
    }
}
