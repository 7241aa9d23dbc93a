import Glibc
import IsorunSys

/// `linux.resources.cpu.realtimeRuntime` and `realtimePeriod` on cgroup v1, where the kernel
/// schedules real-time tasks by group (CONFIG_RT_GROUP_SCHED): a group's tasks may run
/// real-time for `cpu.rt_runtime_us` of every `cpu.rt_period_us`, and a group's budget is
/// accepted only while its parent's covers the sum of its children's. A new cgroup has none,
/// and neither have the directories above a container's (the shared `isorun` one, a nested
/// cgroupsPath's), so a container's budget alone would be refused. isorun raises each
/// ancestor below the hierarchy's root by what is missing, never lowers one, and leaves the
/// root's to the host (`kernel.sched_rt_runtime_us`). cgroup v2 has no such budgets.
enum RealtimeBudget {
    /// A group's budget: runtime µs (-1: unlimited) per period µs.
    struct Budget: Equatable {
        var runtime: Int64
        var period: Int64

        /// The kernel's measure (to_ratio): runtime over period in 1/2^20ths.
        var share: Int64 { runtime < 0 ? Int64.max : period > 0 ? (runtime << 20) / period : 0 }
    }

    /// One ancestor on the way down: its budget and the shares of its children off the way.
    struct Ancestor: Equatable {
        var budget: Budget
        var otherChildrenShare: Int64
    }

    /// The runtimes the ancestors (top first) must be raised to so that a child below the
    /// last one gets `wanted`, or nil for those that already cover it.
    static func raises(for wanted: Budget, below ancestors: [Ancestor]) -> [Int64?] {
        var result = [Int64?](repeating: nil, count: ancestors.count)
        var needed = wanted.share
        for index in ancestors.indices.reversed() {
            let ancestor = ancestors[index]
            let total = ancestor.otherChildrenShare + needed
            if ancestor.budget.share < total {
                // The smallest runtime whose share is at least `total` (the kernel rounds down).
                let period = ancestor.budget.period
                let runtime = (total * period + (1 << 20) - 1) >> 20
                result[index] = runtime
                needed = Budget(runtime: runtime, period: period).share
            } else {
                needed = ancestor.budget.share
            }
        }
        return result
    }

    /// Gives the cpu cgroup `directory` (under `hierarchy`, the cpu controller's mount) the
    /// configured budget, raising its ancestors' first.
    static func apply(runtime: Int64?, period: UInt64?, directory: String, hierarchy: String) throws(CgroupError) {
        guard runtime != nil || period != nil else { return }
        guard Files.exists(directory + "/cpu.rt_runtime_us") else {
            throw CgroupError("linux.resources.cpu.realtimeRuntime: this kernel has no real-time group scheduling (no cpu.rt_runtime_us)")
        }
        let current = budget(of: directory)
        let wanted = Budget(runtime: runtime ?? current.runtime, period: period.map(Int64.init) ?? current.period)
        if wanted.runtime > wanted.period {
            throw CgroupError("linux.resources.cpu.realtimeRuntime: \(wanted.runtime) µs is more than the period, \(wanted.period) µs")
        }
        if wanted.runtime > 0 {
            var chain: [String] = []
            var path = directory
            while let slash = path.lastIndex(of: "/"), path[..<slash].count > hierarchy.count {
                path = String(path[..<slash])
                chain.insert(path, at: 0)
            }
            let ancestors = chain.enumerated().map { index, ancestor in
                let onTheWay = index + 1 < chain.count ? chain[index + 1] : directory
                return Ancestor(budget: budget(of: ancestor), otherChildrenShare: childrenShare(of: ancestor, except: onTheWay))
            }
            for (ancestor, raise) in zip(chain, raises(for: wanted, below: ancestors)) {
                guard let raise else { continue }
                do { try writeSettled(ancestor + "/cpu.rt_runtime_us", String(raise)) } catch {
                    throw CgroupError("linux.resources.cpu.realtimeRuntime: \(wanted.runtime) µs per \(wanted.period) µs needs "
                        + "\(raise) µs of real-time runtime in \(ancestor), which its parent does not grant: \(error)")
                }
            }
        }
        // The kernel refuses a runtime beyond the period at every write: a period shorter
        // than the current runtime goes second.
        let writes = [("cpu.rt_period_us", period.map(String.init), "realtimePeriod"),
                      ("cpu.rt_runtime_us", runtime.map(String.init), "realtimeRuntime")]
        for (file, value, field) in wanted.period < current.runtime ? writes.reversed() : writes {
            guard let value else { continue }
            do { try writeSettled(directory + "/" + file, value) } catch {
                throw CgroupError("linux.resources.cpu.\(field): \(error)")
            }
        }
    }

    /// A cgroup removed a moment ago still counts against its parent's budget until the
    /// kernel has released it (after an RCU grace period): a container started right after
    /// another one with a budget is refused with EINVAL for a few milliseconds. Retried
    /// for up to 200 ms, then the refusal stands.
    private static func writeSettled(_ path: String, _ value: String) throws(SystemError) {
        var attempts = 0
        while true {
            do { return try Files.write(path, value) } catch {
                attempts += 1
                guard error.errno == EINVAL, attempts < 40 else { throw error }
                usleep(5_000)
            }
        }
    }

    static func budget(of directory: String) -> Budget {
        Budget(runtime: CgroupFiles.readInt(directory + "/cpu.rt_runtime_us") ?? 0,
               period: CgroupFiles.readInt(directory + "/cpu.rt_period_us") ?? 1_000_000)
    }

    private static func childrenShare(of directory: String, except skipped: String) -> Int64 {
        let children = (try? Files.list(directory)) ?? []
        return children.map { directory + "/" + $0 }
            .filter { $0 != skipped && Files.isDirectory($0) }
            .reduce(0) { total, child in
                let share = budget(of: child).share
                return share == Int64.max ? total : total + share
            }
    }
}
