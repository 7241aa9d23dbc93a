import ArgumentParser
import FoundationEssentials
import Glibc
import IsorunCgroups
import IsorunCore
import IsorunSpec
import IsorunSys

/// `update`: change a container's cgroup limits while it runs, from a resources
/// document (config.json's `linux.resources`) or runc's flags.
struct UpdateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "update", abstract: "Change a container's resource limits.")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "A linux.resources document; - reads stdin.") var resources: String?
    @Option(name: .long, help: "Memory limit in bytes (k, m, g suffixes).") var memory: String?
    @Option(name: .customLong("memory-swap"), help: "Memory plus swap limit (k, m, g suffixes).") var memorySwap: String?
    @Option(name: .customLong("memory-reservation"), help: "Memory soft limit (k, m, g suffixes).") var memoryReservation: String?
    @Option(name: .customLong("cpu-shares"), help: "Relative CPU weight.") var cpuShares: UInt64?
    @Option(name: .customLong("cpu-quota"), help: "CPU time per period, microseconds.") var cpuQuota: Int64?
    @Option(name: .customLong("cpu-period"), help: "CPU period, microseconds.") var cpuPeriod: UInt64?
    @Option(name: .customLong("cpu-burst"), help: "Extra CPU time a period may borrow, microseconds.") var cpuBurst: UInt64?
    @Option(name: .customLong("cpu-idle"), help: "1: the container's CPU weight is the idle class's (0 undoes it).") var cpuIdle: Int64?
    @Option(name: .customLong("blkio-weight"), help: "Relative block I/O weight, 10 to 1000.") var blkioWeight: UInt16?
    @Option(name: .customLong("cpu-rt-period"), help: "Real-time period, microseconds (cgroup v1).") var cpuRtPeriod: UInt64?
    @Option(name: .customLong("cpu-rt-runtime"), help: "Real-time runtime per period, microseconds (cgroup v1).") var cpuRtRuntime: Int64?
    @Option(name: .customLong("cpuset-cpus"), help: "CPUs to run on, e.g. 0-1.") var cpusetCpus: String?
    @Option(name: .customLong("cpuset-mems"), help: "Memory nodes to use.") var cpusetMems: String?
    @Option(name: .customLong("pids-limit"), help: "Maximum number of processes.") var pidsLimit: Int64?
    @Argument(help: "Container id.") var id: String

    func run() throws {
        let store = global.containers()
        let record = try store.load(id)
        if record.mode == Mode.vm.rawValue {
            try VMContainer.update(record, resources: try requested(), store: store)
        } else {
            try store.update(record, resources: try requested())
        }
    }

    private func requested() throws(IsorunError) -> Resources {
        var result = Resources()
        if let resources {
            let bytes: [UInt8]
            do { bytes = try Files.read(resources == "-" ? "/dev/stdin" : resources) } catch {
                throw IsorunError("--resources", error)
            }
            do { result = try Resources.decode(bytes, file: resources == "-" ? "stdin" : resources) } catch {
                throw IsorunError(error)
            }
        }
        if memory != nil || memorySwap != nil || memoryReservation != nil {
            var memoryLimits = result.memory ?? MemoryResources()
            if let memory { memoryLimits.limit = try Self.bytes(memory, option: "--memory") }
            if let memorySwap { memoryLimits.swap = try Self.bytes(memorySwap, option: "--memory-swap") }
            if let memoryReservation { memoryLimits.reservation = try Self.bytes(memoryReservation, option: "--memory-reservation") }
            result.memory = memoryLimits
        }
        if cpuShares != nil || cpuQuota != nil || cpuPeriod != nil || cpuBurst != nil || cpuIdle != nil || cpuRtPeriod != nil
            || cpuRtRuntime != nil || cpusetCpus != nil || cpusetMems != nil {
            var cpu = result.cpu ?? CPUResources()
            cpu.shares = cpuShares ?? cpu.shares
            cpu.quota = cpuQuota ?? cpu.quota
            cpu.period = cpuPeriod ?? cpu.period
            cpu.burst = cpuBurst ?? cpu.burst
            cpu.idle = cpuIdle ?? cpu.idle
            cpu.realtimePeriod = cpuRtPeriod ?? cpu.realtimePeriod
            cpu.realtimeRuntime = cpuRtRuntime ?? cpu.realtimeRuntime
            cpu.cpus = cpusetCpus ?? cpu.cpus
            cpu.mems = cpusetMems ?? cpu.mems
            result.cpu = cpu
        }
        if let pidsLimit { result.pids = PidsResources(limit: pidsLimit) }
        if let blkioWeight {
            var blockIO = result.blockIO ?? BlockIOResources(weight: nil)
            blockIO.weight = blkioWeight
            result.blockIO = blockIO
        }
        guard result != Resources() else { throw IsorunError("update: nothing to change; give --resources or a limit flag") }
        return result
    }

    /// "512m" → 536870912; -1 means no limit.
    static func bytes(_ text: String, option: String) throws(IsorunError) -> Int64 {
        if text == "-1" { return -1 }
        let units: [Character: Int64] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        let lower = String(text.lowercased().filter { $0 != "b" })
        if let last = lower.last, let unit = units[last], let number = Int64(lower.dropLast()), number >= 0 {
            return number * unit
        }
        guard let number = Int64(lower), number >= 0 else { throw IsorunError("\(option): '\(text)' is not a size (bytes, or k, m, g)") }
        return number
    }
}

/// `events`: the container's usage as runc prints it, one JSON object per line; with
/// --stats once, else every --interval until the container stops.
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Print a container's resource usage.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Print the usage once and exit.") var stats = false
    @Option(name: .long, help: "Seconds between reports.") var interval: Double = 5
    @Argument(help: "Container id.") var id: String

    struct Event: Encodable {
        var type = "stats"
        var id: String
        var data: CgroupStatistics
    }

    func run() throws {
        guard interval > 0 else { throw IsorunError("--interval: must be positive") }
        let store = global.containers()
        let record = try store.load(id)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        repeat {
            guard store.status(of: record) != .stopped, let cgroup = store.cgroup(of: record) else {
                if stats { throw IsorunError("container '\(id)' is stopped") }
                return
            }
            let line = String(decoding: try encoder.encode(Event(id: id, data: cgroup.statistics())), as: UTF8.self)
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if !stats { usleep(UInt32(interval * 1_000_000)) }
        } while !stats
    }
}
