import IsorunCore
import IsorunSpec
import IsorunSys

/// The kernel a VM boots, and the modules isorun-init must load for it.
struct GuestKernel {
    var path: String
    /// Module files in load order (dependencies first); empty for isorun's own kernel.
    var modules: [String] = []
    /// True for Debian's stock kernel, used when isorun's could not be built.
    var isStockFallback = false
}

/// The QEMU binary a VM runs in.
struct GuestHypervisor: Equatable {
    static let systemQemu = "qemu-system-x86_64"
    var path: String
    /// True when isorun's own QEMU build is missing and the system's is used.
    var isSystemFallback = false
    /// It takes `-sandbox` (QEMU's own seccomp filter, see QemuCommandLine.sandboxed).
    var hasSandbox = false
    /// isorun's own build: the directory it is installed in (binary and firmware links).
    var buildDirectory: String?
    /// The bundle's own `vm.hypervisor.path`, whose needs isorun does not know.
    var isConfigured = false
}

/// Finds the guest kernel, QEMU and isorun-init for a VM.
enum GuestArtifacts {
    /// The kernel to boot, in order of precedence: `--kernel`, the bundle's
    /// `vm.kernel.path` (config-vm.md), then the cache's `kernel/current`: the one
    /// `make kernel` built from Guest/kernel (`vmlinux`), or, when that build failed,
    /// Debian's stock cloud kernel (`vmlinuz`) with the modules listed in `modules/order`.
    static func kernel(explicit: String?, bundle: Bundle, cacheDirectory: String) throws(IsorunError) -> GuestKernel {
        if let explicit { return GuestKernel(path: try requireFile(explicit, what: "--kernel")) }
        if let path = bundle.config.vm?.kernel?.path {
            return GuestKernel(path: try requireFile(path, what: "\(bundle.directory)/config.json: vm.kernel.path"))
        }
        let current = "\(cacheDirectory)/kernel/current"
        if Files.exists("\(current)/vmlinux") { return GuestKernel(path: "\(current)/vmlinux") }
        if Files.exists("\(current)/vmlinuz") {
            let order = (try? Files.readString("\(current)/modules/order")) ?? ""
            let modules = order.split(separator: "\n").filter { !$0.isEmpty }.map { "\(current)/modules/\($0)" }
            return GuestKernel(path: "\(current)/vmlinuz", modules: modules, isStockFallback: true)
        }
        throw IsorunError("no guest kernel in \(current): build it with `make kernel` (Guest/kernel/build.sh) or pass --kernel PATH")
    }

    /// The QEMU to run, in order of precedence: the bundle's `vm.hypervisor.path`, the
    /// cache's `qemu/current` (the microvm-only build `make qemu` makes from Guest/qemu:
    /// ~30 MiB less per idle VM), then `qemu-system-x86_64` on the PATH.
    /// Whether it takes `-sandbox`: isorun's own build says so in `features` (since recipe
    /// 3); the system's is asked (one short run, on a path that is slower anyway); a
    /// configured one is the bundle's business and gets no flag it may not know.
    static func hypervisor(configured: String?, cacheDirectory: String) -> GuestHypervisor {
        if let configured { return GuestHypervisor(path: configured, isConfigured: true) }
        let build = "\(cacheDirectory)/qemu/current"
        let own = "\(build)/bin/qemu-system-x86_64"
        if Files.exists(own) {
            let features = (try? Files.readString("\(build)/features")) ?? ""
            return GuestHypervisor(path: own, hasSandbox: features.split(separator: "\n").contains("sandbox"),
                                   buildDirectory: build)
        }
        let sandbox = HostCommand.run([GuestHypervisor.systemQemu, "-sandbox", "on", "-version"]).status == 0
        return GuestHypervisor(path: GuestHypervisor.systemQemu, isSystemFallback: true, hasSandbox: sandbox)
    }

    /// isorun-init: `$ISORUN_INIT`, else next to the isorun executable (SwiftPM builds
    /// both products into one directory).
    static func initBinary() throws(IsorunError) -> String {
        if let value = HostProcess.variable("ISORUN_INIT") { return try requireFile(value, what: "ISORUN_INIT") }
        let candidate = Files.sibling("isorun-init", of: (try? FileTree.linkTarget("/proc/self/exe")) ?? "")
        guard Files.exists(candidate) else {
            throw IsorunError("guest init \(candidate) not found: build it with `swift build --product isorun-init` or set ISORUN_INIT")
        }
        return candidate
    }

    private static func requireFile(_ path: String, what: String) throws(IsorunError) -> String {
        switch Files.kind(of: path) {
        case .success(.regular): return path
        case .success: throw IsorunError("\(what): \(path) is not a regular file")
        case .failure(let error): throw IsorunError(what, error)
        }
    }
}
