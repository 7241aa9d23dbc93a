/// The `vm` section (config-vm.md): what a VM-based runtime boots. isorun's VM
/// mode can fill in its own defaults, so every part is optional here.
public struct VM: Sendable, Encodable, Equatable {
    /// The hypervisor program to use.
    public var hypervisor: VMHypervisor?
    /// The guest kernel to boot.
    public var kernel: VMKernel?
    /// A disk image holding the root filesystem.
    public var image: VMImage?
    /// The machine's size and passed-through hardware (runtime-spec 1.3).
    public var hwConfig: VMHardware?

    /// Builds a VM section in code.
    public init(hypervisor: VMHypervisor? = nil, kernel: VMKernel? = nil, image: VMImage? = nil, hwConfig: VMHardware? = nil) {
        self.hypervisor = hypervisor
        self.kernel = kernel
        self.image = image
        self.hwConfig = hwConfig
    }
}

/// `vm.hwConfig` (runtime-spec 1.3): how big the VM is, and host hardware handed to it.
/// The pass-through fields (`dtdevs`, `iomems`, `irqs`) come from Xen's domain config.
public struct VMHardware: Sendable, Encodable, Equatable {
    /// A device-tree blob describing the VM's hardware.
    public var deviceTree: String?
    /// Number of virtual CPUs.
    public var vcpus: UInt32?
    /// The VM's memory in bytes.
    public var memory: UInt64?
    /// Host device-tree nodes passed through.
    public var dtdevs: [String]?
    /// Host I/O memory ranges mapped into the VM.
    public var iomems: [VMIOMemory]?
    /// Host interrupt lines passed through.
    public var irqs: [UInt32]?

    /// Builds a hardware entry in code.
    public init(deviceTree: String? = nil, vcpus: UInt32? = nil, memory: UInt64? = nil, dtdevs: [String]? = nil,
                iomems: [VMIOMemory]? = nil, irqs: [UInt32]? = nil) {
        self.deviceTree = deviceTree
        self.vcpus = vcpus
        self.memory = memory
        self.dtdevs = dtdevs
        self.iomems = iomems
        self.irqs = irqs
    }
}

/// One `vm.hwConfig.iomems` entry: `nrMFNs` host pages from `firstMFN`, at guest frame
/// `firstGFN` (the same number when absent).
public struct VMIOMemory: Sendable, Encodable, Equatable {
    public var firstGFN: UInt64?
    public var firstMFN: UInt64
    public var nrMFNs: UInt64

    public init(firstGFN: UInt64? = nil, firstMFN: UInt64, nrMFNs: UInt64) {
        self.firstGFN = firstGFN
        self.firstMFN = firstMFN
        self.nrMFNs = nrMFNs
    }
}

/// The hypervisor binary and its extra arguments.
public struct VMHypervisor: Sendable, Encodable, Equatable {
    /// Absolute host path of the hypervisor binary.
    public var path: String
    /// Extra arguments for the hypervisor.
    public var parameters: [String]?

    /// Builds a hypervisor entry in code.
    public init(path: String, parameters: [String]? = nil) {
        self.path = path
        self.parameters = parameters
    }
}

/// The guest kernel, its command line and initial ramdisk.
public struct VMKernel: Sendable, Encodable, Equatable {
    /// Absolute host path of the kernel image.
    public var path: String
    /// Kernel command-line parameters.
    public var parameters: [String]?
    /// Absolute host path of the initial ramdisk.
    public var initrd: String?

    /// Builds a kernel entry in code.
    public init(path: String, parameters: [String]? = nil, initrd: String? = nil) {
        self.path = path
        self.parameters = parameters
        self.initrd = initrd
    }
}

/// A root-filesystem disk image for the guest.
public struct VMImage: Sendable, Encodable, Equatable {
    /// Absolute host path of the image file.
    public var path: String
    /// `raw`, `qcow2`, `vdi`, `vmdk` or `vhd`.
    public var format: String

    /// Builds an image entry in code.
    public init(path: String, format: String) {
        self.path = path
        self.format = format
    }

    /// The formats the spec allows for `format`.
    public static let validFormats: [String] = ["raw", "qcow2", "vdi", "vmdk", "vhd"]
}

// MARK: Reading from JSON

extension VM {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            hypervisor: try o.optional("hypervisor", VMHypervisor.init(json:)),
            kernel: try o.optional("kernel", VMKernel.init(json:)),
            image: try o.optional("image", VMImage.init(json:)),
            hwConfig: try o.optional("hwConfig", VMHardware.init(json:))
        )
    }
}

extension VMHardware {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            deviceTree: try o.optional("deviceTree", JSONRead.string),
            vcpus: try o.optional("vcpus", JSONRead.integer(UInt32.self)),
            memory: try o.optional("memory", JSONRead.integer(UInt64.self)),
            dtdevs: try o.optional("dtdevs", JSONRead.strings),
            iomems: try o.optional("iomems", JSONRead.objects(VMIOMemory.init(json:))),
            irqs: try o.optional("irqs") { n throws(JSONFieldError) in
                try n.array(of: "non-negative integers") { e throws(JSONFieldError) in try e.integer(UInt32.self) }
            }
        )
    }
}

extension VMIOMemory {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            firstGFN: try o.optional("firstGFN", JSONRead.integer(UInt64.self)),
            firstMFN: try o.required("firstMFN", JSONRead.integer(UInt64.self)),
            nrMFNs: try o.required("nrMFNs", JSONRead.integer(UInt64.self))
        )
    }
}

extension VMHypervisor {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            path: try o.required("path", JSONRead.string),
            parameters: try o.optional("parameters", JSONRead.strings)
        )
    }
}

extension VMKernel {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            path: try o.required("path", JSONRead.string),
            parameters: try o.optional("parameters", JSONRead.strings),
            initrd: try o.optional("initrd", JSONRead.string)
        )
    }
}

extension VMImage {
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            path: try o.required("path", JSONRead.string),
            format: try o.required("format", JSONRead.string)
        )
    }
}
