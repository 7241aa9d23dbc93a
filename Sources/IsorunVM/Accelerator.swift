import IsorunCore
import IsorunSys

/// How QEMU runs guest code: KVM (hardware virtualization) or TCG (emulation).
public enum Accelerator: String, Sendable {
    case kvm, tcg
}

/// What the user asked for with `--accel`.
public enum AcceleratorChoice: String, Sendable, CaseIterable {
    case auto, kvm, tcg
}

/// Decides between KVM and TCG from what the host offers.
///
/// /dev/kvm alone is not enough: a paravirtualized KVM such as PVM exposes the device
/// on CPUs without vmx/svm, and ordinary guest kernels hang under it. So `auto` uses
/// KVM only when /dev/kvm opens and the CPU advertises vmx or svm.
public struct AcceleratorProbe: Sendable {
    public var kvmDeviceOpens: Bool
    public var cpuFlags: Set<Substring>

    public init(kvmDeviceOpens: Bool, cpuFlags: Set<Substring>) {
        self.kvmDeviceOpens = kvmDeviceOpens
        self.cpuFlags = cpuFlags
    }

    /// Looks at this host.
    public static func host() -> AcceleratorProbe {
        let cpuinfo = (try? Files.readString("/proc/cpuinfo")) ?? ""
        let flagsLine = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
        let flags = flagsLine.split(separator: ":").dropFirst().first?.split(separator: " ") ?? []
        return AcceleratorProbe(kvmDeviceOpens: HostProcess.canOpenReadWrite("/dev/kvm"), cpuFlags: Set(flags))
    }

    /// The accelerator to use and, when it is not what a user would assume, why.
    public func resolve(_ choice: AcceleratorChoice) -> (accelerator: Accelerator, reason: String?) {
        switch choice {
        case .tcg: return (.tcg, nil)
        case .kvm: return (.kvm, nil)
        case .auto:
            guard kvmDeviceOpens else { return (.tcg, "/dev/kvm is not usable here: using TCG emulation") }
            guard cpuFlags.contains("vmx") || cpuFlags.contains("svm") else {
                return (.tcg, "/dev/kvm exists but the CPU has no vmx/svm (a paravirtualized KVM): using TCG emulation")
            }
            return (.kvm, nil)
        }
    }
}
