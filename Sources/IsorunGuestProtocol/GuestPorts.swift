/// The virtio-serial ports an isorun VM has, by the names the host gives them and the
/// guest looks them up by.
public enum GuestPorts {
    public static let control = "isorun.control"
    public static let stdin = "isorun.stdin"
    public static let stdout = "isorun.stdout"
    public static let stderr = "isorun.stderr"
    /// Not a port: the 9p mount tag of the directory through which the host shares the
    /// bundle's bind mounts (one entry per mount) with the guest.
    public static let bindShare = "isorun.binds"

    /// On the kernel command line when the host attached a stdin port (it does not when
    /// isorun runs from a terminal without `process.terminal`). A dotted name: the kernel
    /// neither warns about it nor hands it to init.
    public static let stdinAttachedParameter = "isorun.stdin=1"

    /// The ports a guest booted with `kernelParameters` should wait for.
    public static func attached(kernelParameters: [Substring]) -> [String] {
        let always = [control, stdout, stderr]
        return kernelParameters.contains(Substring(stdinAttachedParameter)) ? always + [stdin] : always
    }
}
