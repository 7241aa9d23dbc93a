import Glibc
import IsorunSpec
import IsorunSys

/// The parts of OCI `process` every mode applies the same way: argv, env, PATH
/// lookup, cwd, user, umask, rlimits, scheduler and I/O priority.
public enum ProcessSettings {
    public static let defaultSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// A SpawnPlan carrying `process`; modes add their own isolation on top.
    public static func basePlan(for process: IsorunSpec.Process, configFile: String) throws(IsorunError) -> SpawnPlan {
        let environment = process.env ?? []
        var plan = SpawnPlan(arguments: process.args ?? [], environment: environment)
        plan.searchPath = environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? defaultSearchPath
        plan.workingDirectory = process.cwd
        if let user = process.user {
            plan.user = (uid: user.uid, gid: user.gid, groups: user.additionalGids ?? [])
            plan.umask = user.umask.map { mode_t($0) }
        }
        plan.resourceLimits = try resourceLimits(process.rlimits ?? [], configFile: configFile)
        plan.scheduler = try scheduler(process.scheduler, configFile: configFile)
        if let priority = process.ioPriority {
            try rejectProblems(priority.problems, in: "process.ioPriority", configFile: configFile)
            plan.ioPriority = priority.kernelValue
        }
        return plan
    }

    /// `process.scheduler` as sched_setattr(2) takes it. Checked here as well as in
    /// validation, because `exec --process` documents reach the launchers unvalidated.
    static func scheduler(_ scheduler: Scheduler?, configFile: String) throws(IsorunError) -> SpawnPlan.SchedulerAttributes? {
        guard let scheduler else { return nil }
        try rejectProblems(scheduler.problems, in: "process.scheduler", configFile: configFile)
        guard let policy = scheduler.policyNumber, let flags = scheduler.flagMask else { return nil }
        return SpawnPlan.SchedulerAttributes(
            policy: policy, flags: flags, nice: scheduler.nice ?? 0, priority: UInt32(scheduler.priority ?? 0),
            runtime: scheduler.runtime ?? 0, deadline: scheduler.deadline ?? 0, period: scheduler.period ?? 0)
    }

    /// `process.execCPUAffinity` for a process `exec` starts, as CPU numbers. Without final
    /// CPUs the process returns to its usual ones after the initial phase (see the shim).
    public static func execCPUs(_ affinity: ExecCPUAffinity?, configFile: String) throws(IsorunError) -> (initial: [Int32], final: [Int32]) {
        guard let affinity else { return ([], []) }
        try rejectProblems(affinity.problems, in: "process.execCPUAffinity", configFile: configFile)
        func cpus(_ list: String?) -> [Int32] { (list.flatMap(ExecCPUAffinity.cpus) ?? []).map(Int32.init) }
        return (cpus(affinity.initial), cpus(affinity.final))
    }

    private static func rejectProblems(_ problems: [(field: String, message: String)], in object: String,
                                       configFile: String) throws(IsorunError) {
        if let first = problems.first {
            throw IsorunError("\(configFile): \(object).\(first.field): \(first.message)")
        }
    }

    /// `linux.personality` as personality(2) takes it: a process attribute like its limits, so
    /// bare mode sets it too.
    public static func personality(_ linux: Linux?) -> Int32? {
        linux?.personality.map { $0.domain == "LINUX32" ? PersonalityDomain.linux32 : PersonalityDomain.linux }
    }

    /// `linux.memoryPolicy` as set_mempolicy(2) takes it. Like the personality it is a process
    /// attribute, inherited by every child, so bare mode and `exec` set it too. Nil for none,
    /// or for a policy validation has already refused.
    public static func memoryPolicy(_ linux: Linux?) -> SpawnPlan.MemoryPolicyAttributes? {
        guard let policy = linux?.memoryPolicy, let mode = policy.kernelMode, let nodes = policy.nodeNumbers else { return nil }
        return SpawnPlan.MemoryPolicyAttributes(mode: mode, nodes: nodes)
    }

    /// RLIMIT_* names as the kernel numbers them on Linux (asm-generic/resource.h).
    /// Ordered pairs rather than a dictionary, for the reason `MountOptions` gives.
    static let rlimitNumbers: KeyValuePairs<String, Int32> = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
        "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
        "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
        "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
    ]

    static func resourceLimits(_ limits: [Rlimit], configFile: String) throws(IsorunError) -> [SpawnPlan.ResourceLimit] {
        var result: [SpawnPlan.ResourceLimit] = []
        for (index, limit) in limits.enumerated() {
            guard let number = rlimitNumbers.first(where: { $0.key == limit.type })?.value else {
                throw IsorunError("\(configFile): process.rlimits[\(index)].type: unknown resource limit '\(limit.type)'")
            }
            result.append(.init(resource: number, soft: limit.soft, hard: limit.hard))
        }
        return result
    }
}
