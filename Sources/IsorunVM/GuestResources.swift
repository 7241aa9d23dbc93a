import IsorunCore
import IsorunSpec

/// The VM's RAM and vCPUs. `vm.hwConfig` (runtime-spec 1.3) says them outright; without it
/// they come from the bundle's `linux.resources`: inside a VM the limits become the
/// machine's size rather than a cgroup.
struct GuestResources: Equatable {
    var memoryMiB: Int
    var vCPUs: Int

    /// Guest RAM when the bundle sets no memory limit.
    static let defaultMemoryMiB = 128
    /// What the guest kernel and isorun-init need besides the workload's limit.
    static let kernelMarginMiB = 32
    /// QEMU's microvm machine takes no more (QEMU says so for `-smp 289`).
    static let maximumVCPUs: UInt32 = 288

    /// The initramfs counts three times: while the kernel unpacks it, the image is
    /// reserved memory and the unpacked files go to a tmpfs that may fill only half of
    /// the rest, so RAM must hold the image plus twice the files. The image is freed
    /// afterwards, which leaves the workload its limit plus the margin and more.
    init(resources: Resources?, initramfsBytes: Int, hostCPUs: Int) {
        if let limit = resources?.memory?.limit, limit > 0 {
            memoryMiB = Int((limit + (1 << 20) - 1) >> 20) + Self.overheadMiB(initramfsBytes: initramfsBytes)
        } else {
            memoryMiB = Self.defaultMemoryMiB + Self.initramfsMiB(initramfsBytes)
        }
        var cpus = 1
        if let cpu = resources?.cpu {
            if let quota = cpu.quota, quota > 0 {
                let period = Int64(cpu.period ?? 100_000)
                cpus = Int((quota + period - 1) / period)
            } else if let list = cpu.cpus, let count = Self.countCPUs(list) {
                cpus = count
            }
        }
        vCPUs = max(1, min(cpus, max(hostCPUs, 1)))
    }

    /// As above, with `hardware`'s `vcpus` and `memory` taking the place of what the
    /// resources say. The vCPUs are not capped by the host's CPUs: the bundle asked for
    /// them, and a hypervisor runs more vCPUs than CPUs. A machine too small to unpack
    /// the initramfs would stall in its boot, so that is a 125 naming the field.
    init(resources: Resources?, hardware: VMHardware?, initramfsBytes: Int, hostCPUs: Int,
         configFile: String) throws(IsorunError) {
        self.init(resources: resources, initramfsBytes: initramfsBytes, hostCPUs: hostCPUs)
        guard let hardware else { return }
        try Self.refusePassThrough(hardware, configFile: configFile)
        if let vcpus = hardware.vcpus {
            guard vcpus <= Self.maximumVCPUs else {
                throw IsorunError("\(configFile): vm.hwConfig.vcpus: \(vcpus) vCPUs; QEMU's microvm machine takes at most \(Self.maximumVCPUs)")
            }
            vCPUs = Int(vcpus)
        }
        if let memory = hardware.memory {
            let mebibytes = Int(clamping: memory / (1 << 20) + (memory % (1 << 20) == 0 ? 0 : 1))
            let needed = Self.kernelMarginMiB + Self.initramfsMiB(initramfsBytes)
            guard mebibytes >= needed else {
                throw IsorunError("\(configFile): vm.hwConfig.memory: \(memory) bytes is less than the \(needed) MiB this guest needs (\(Self.kernelMarginMiB) MiB for its kernel and init, 3 × its \(initramfsBytes >> 10) KiB initramfs while it unpacks)")
            }
            memoryMiB = mebibytes
        }
    }

    /// The pass-through fields name Xen's ways of handing host hardware to a guest, and
    /// `deviceTree` a board description; QEMU's x86 microvm has neither.
    private static func refusePassThrough(_ hardware: VMHardware, configFile: String) throws(IsorunError) {
        if hardware.deviceTree != nil {
            throw IsorunError("\(configFile): vm.hwConfig.deviceTree: QEMU's x86 microvm takes no device tree (that is for Arm and other boards); remove it")
        }
        let passThrough = [("dtdevs", hardware.dtdevs?.count ?? 0), ("iomems", hardware.iomems?.count ?? 0),
                           ("irqs", hardware.irqs?.count ?? 0)]
        if let (field, _) = passThrough.first(where: { $0.1 > 0 }) {
            throw IsorunError("\(configFile): vm.hwConfig.\(field): handing host hardware to the guest this way is Xen's; isorun's QEMU VMs cannot, so remove it")
        }
    }

    private static func initramfsMiB(_ bytes: Int) -> Int { 3 * ((bytes + (1 << 20) - 1) >> 20) }

    /// What the machine holds beyond a memory limit: the margin and the initramfs.
    static func overheadMiB(initramfsBytes: Int) -> Int { kernelMarginMiB + initramfsMiB(initramfsBytes) }

    /// Counts the CPUs in a cpuset list such as "0-3,6".
    static func countCPUs(_ list: String) -> Int? {
        var count = 0
        for part in list.filter({ $0 != " " }).split(separator: ",") {
            let bounds = part.split(separator: "-")
            guard let first = bounds.first, let low = Int(first), let high = Int(bounds.last ?? first),
                  high >= low else { return nil }
            count += high - low + 1
        }
        return count > 0 ? count : nil
    }
}
