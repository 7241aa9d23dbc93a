/// The `vm` section (config-vm.md): what a VM-based runtime boots. isorun's VM
/// mode can fill in its own defaults, so every part is optional here.
public struct VM: Sendable, Encodable, Equatable {
    /// The hypervisor program to use.
    public var hypervisor: VMHypervisor?
    /// The guest kernel to boot.
    public var kernel: VMKernel?
    /// A disk image holding the root filesystem.
    public var image: VMImage?

    /// Builds a VM section in code.
    public init(hypervisor: VMHypervisor? = nil, kernel: VMKernel? = nil, image: VMImage? = nil) {
        self.hypervisor = hypervisor
        self.kernel = kernel
        self.image = image
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
            image: try o.optional("image", VMImage.init(json:))
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
