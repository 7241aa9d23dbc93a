/// Where and how the kernel schedules the process: `process.scheduler`, `process.ioPriority`
/// and `process.execCPUAffinity` (runtime-spec 1.1 and 1.2). The names are the spec's; the
/// numbers are the kernel's (linux/sched.h, linux/ioprio.h), kept here beside the names so
/// that validation and the launchers read one table.

/// `process.scheduler`: the policy and parameters sched_setattr(2) gives the process.
public struct Scheduler: Sendable, Encodable, Equatable {
    /// One of `policies`' names.
    public var policy: String
    /// -20 (most favoured) … 19; for SCHED_OTHER and SCHED_BATCH.
    public var nice: Int32?
    /// 1 … 99 for SCHED_FIFO and SCHED_RR; 0 for the other policies.
    public var priority: Int32?
    /// Names from `flagBits`.
    public var flags: [String]?
    /// SCHED_DEADLINE's budget, relative deadline and period, in nanoseconds.
    public var runtime: UInt64?
    public var deadline: UInt64?
    public var period: UInt64?

    public init(policy: String, nice: Int32? = nil, priority: Int32? = nil, flags: [String]? = nil,
                runtime: UInt64? = nil, deadline: UInt64? = nil, period: UInt64? = nil) {
        self.policy = policy
        self.nice = nice
        self.priority = priority
        self.flags = flags
        self.runtime = runtime
        self.deadline = deadline
        self.period = period
    }

    /// Ordered pairs rather than a dictionary: messages list them in the spec's order.
    public static let policies: KeyValuePairs<String, UInt32> = [
        "SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_ISO": 4, "SCHED_IDLE": 5,
        "SCHED_DEADLINE": 6,
    ]

    public static let flagBits: KeyValuePairs<String, UInt64> = [
        "SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02, "SCHED_FLAG_DL_OVERRUN": 0x04,
        "SCHED_FLAG_KEEP_POLICY": 0x08, "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
        "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40,
    ]

    /// The kernel's policy number, or nil for a name the spec does not define.
    public var policyNumber: UInt32? { Self.policies.first { $0.key == policy }?.value }

    /// The flags as one mask, or nil when one of them is unknown.
    public var flagMask: UInt64? {
        var mask: UInt64 = 0
        for name in flags ?? [] {
            guard let bit = Self.flagBits.first(where: { $0.key == name })?.value else { return nil }
            mask |= bit
        }
        return mask
    }

    /// Problems as (field under `process.scheduler`, message), in field order. The kernel
    /// would refuse all of these with a bare EINVAL; saying which field is wrong is kinder.
    public var problems: [(field: String, message: String)] {
        var found: [(field: String, message: String)] = []
        guard let number = policyNumber else {
            let names = Self.policies.map(\.key).joined(separator: ", ")
            return [("policy", "unknown policy \(quoted(policy)); expected one of \(names)")]
        }
        if policy == "SCHED_ISO" {
            found.append(("policy", "SCHED_ISO is named by the runtime spec but Linux has no such policy"))
        }
        if let nice, !(-20...19).contains(nice) {
            found.append(("nice", "must be between -20 and 19, got \(nice)"))
        }
        let realtime = number == 1 || number == 2
        let priority = priority ?? 0
        if realtime && !(1...99).contains(priority) {
            found.append(("priority", "\(policy) needs a priority between 1 and 99, got \(priority)"))
        } else if !realtime && priority != 0 {
            found.append(("priority", "only SCHED_FIFO and SCHED_RR take a priority; \(policy) needs 0, got \(priority)"))
        }
        for (i, name) in (flags ?? []).enumerated() where !Self.flagBits.contains(where: { $0.key == name }) {
            found.append(("flags[\(i)]", "unknown flag \(quoted(name)); expected one of \(Self.flagBits.map(\.key).joined(separator: ", "))"))
        }
        if policy == "SCHED_DEADLINE" {
            let runtime = runtime ?? 0, deadline = deadline ?? 0, period = period ?? 0
            // The kernel's own rules (sched_setattr(2)): at least 1024 ns of budget, and
            // runtime <= deadline <= period, a period of 0 meaning the deadline.
            if runtime < 1024 {
                found.append(("runtime", "SCHED_DEADLINE needs a runtime of at least 1024 ns, got \(runtime)"))
            } else if deadline < runtime {
                found.append(("deadline", "must be at least the runtime (\(runtime) ns), got \(deadline)"))
            } else if period != 0 && period < deadline {
                found.append(("period", "must be 0 or at least the deadline (\(deadline) ns), got \(period)"))
            }
        }
        return found
    }
}

/// `process.ioPriority`: the I/O scheduling class and level ioprio_set(2) gives the process.
public struct IOPriority: Sendable, Encodable, Equatable {
    /// IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE (`class` in JSON).
    public var ioClass: String
    /// 0 (highest) … 7 (lowest).
    public var priority: Int32

    public init(ioClass: String, priority: Int32) {
        self.ioClass = ioClass
        self.priority = priority
    }

    enum CodingKeys: String, CodingKey {
        case ioClass = "class"
        case priority
    }

    public static let classes: KeyValuePairs<String, Int32> = ["IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3]

    /// The value ioprio_set(2) takes (class in the top three of sixteen bits), or nil for
    /// an unknown class or a level outside 0 … 7.
    public var kernelValue: Int32? {
        guard let number = Self.classes.first(where: { $0.key == ioClass })?.value, (0...7).contains(priority) else { return nil }
        return number << 13 | priority
    }

    public var problems: [(field: String, message: String)] {
        var found: [(field: String, message: String)] = []
        if !Self.classes.contains(where: { $0.key == ioClass }) {
            found.append(("class", "unknown class \(quoted(ioClass)); expected \(Self.classes.map(\.key).joined(separator: ", "))"))
        }
        if !(0...7).contains(priority) {
            found.append(("priority", "must be between 0 (highest) and 7 (lowest), got \(priority)"))
        }
        return found
    }
}

/// `process.execCPUAffinity`: the CPUs an `exec`'d process runs on before and after it joins
/// the container's cgroups. The spec leaves the container's own process out.
public struct ExecCPUAffinity: Sendable, Encodable, Equatable {
    public var initial: String?
    public var final: String?

    public init(initial: String? = nil, final: String? = nil) {
        self.initial = initial
        self.final = final
    }

    /// The most CPUs a `cpu_set_t` (and so sched_setaffinity(2) as isorun calls it) holds.
    public static let cpuLimit = 1024

    /// The CPU numbers of a list such as `0-3,7`, ascending and without repeats; nil when
    /// the text is not such a list or names a CPU at or beyond `cpuLimit`. Empty text is
    /// an empty list.
    public static func cpus(_ list: String) -> [Int]? { NumberList.parse(list, below: cpuLimit) }

    public var problems: [(field: String, message: String)] {
        var found: [(field: String, message: String)] = []
        for (field, list) in [("initial", initial), ("final", final)] {
            guard let list, !list.isEmpty else { continue }
            if Self.cpus(list) == nil {
                found.append((field, "\(quoted(list)) is not a CPU list such as 0-3,7 (CPUs 0 to \(Self.cpuLimit - 1))"))
            }
        }
        return found
    }
}

// MARK: Reading from JSON

extension Scheduler {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            policy: try o.required("policy", JSONRead.string),
            nice: try o.optional("nice", JSONRead.integer(Int32.self)),
            priority: try o.optional("priority", JSONRead.integer(Int32.self)),
            flags: try o.optional("flags", JSONRead.strings),
            runtime: try o.optional("runtime", JSONRead.integer(UInt64.self)),
            deadline: try o.optional("deadline", JSONRead.integer(UInt64.self)),
            period: try o.optional("period", JSONRead.integer(UInt64.self))
        )
    }
}

extension IOPriority {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        // The spec calls `priority` required, but runc and crun read a missing one as 0, and
        // {"class": "IOPRIO_CLASS_IDLE"} alone (where the level means nothing) is common.
        self.init(ioClass: try o.required("class", JSONRead.string), priority: try o.optional("priority", JSONRead.integer(Int32.self)) ?? 0)
    }
}

extension ExecCPUAffinity {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(initial: try o.optional("initial", JSONRead.string), final: try o.optional("final", JSONRead.string))
    }
}
