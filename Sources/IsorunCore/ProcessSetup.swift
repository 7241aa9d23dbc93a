import IsorunSys

/// runc's flags that change how a container's process is set up (`create`, `run`).
public struct ProcessSetup: Sendable, Equatable {
    /// `--preserve-fds`: how many descriptors after stderr the workload inherits.
    public var preservedDescriptors: Int32 = 0
    /// `--no-pivot`: a sandbox enters its rootfs by moving it onto / (an initramfs root).
    public var noPivotRoot = false
    /// A sandbox's process joins a new session keyring named after the container, unless
    /// `--no-new-keyring`.
    public var newSessionKeyring = true

    public init() {}

    /// `--preserve-fds count`: the descriptors must be open now, before isorun opens any of
    /// its own (which would take a missing one's number and leak into the workload).
    /// A VM cannot take them: a host descriptor means nothing to its guest.
    public static func checkPreserved(_ count: Int32, mode: Mode) throws(IsorunError) {
        guard count >= 0 else { throw IsorunError("--preserve-fds: \(count) is not a count of descriptors") }
        guard count == 0 || mode != .vm else {
            throw IsorunError("--preserve-fds: a VM container cannot take the host's descriptors")
        }
        for descriptor in 3 ..< 3 + count where !Files.isOpenDescriptor(descriptor) {
            throw IsorunError("--preserve-fds \(count): descriptor \(descriptor) is not open")
        }
    }
}
