/// One entry of `linux.netDevices` (runtime-spec 1.3): a network device of the host that
/// the runtime moves into the container's network namespace. The entry's key is the
/// device's name on the host.
public struct NetDevice: Sendable, Encodable, Equatable {
    /// The device's name inside the container; nil or empty keeps the host's name.
    public var name: String?

    public init(name: String? = nil) {
        self.name = name
    }

    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(name: try o.optional("name", JSONRead.string))
    }

    /// The name the device has in the container when its host name is `hostName`.
    public func containerName(hostName: String) -> String {
        guard let name, !name.isEmpty else { return hostName }
        return name
    }

    /// Whether the kernel accepts `name` for a network device (dev_valid_name): 1 to 15
    /// bytes, not "." or "..", without '/', ':' or white space.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return !bytes.isEmpty && bytes.count <= 15 && name != "." && name != ".."
            && !bytes.contains { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 == 0 || $0 == 0x20 || (0x09...0x0d).contains($0) }
    }
}

extension ConfigValidator {
    /// The spec's rules for `linux.netDevices`: names the kernel can take, no two devices
    /// with one name in the container, and a network namespace of the container's own
    /// to move them into (without one they would stay on the host under the host's rules).
    mutating func check(netDevices: [String: NetDevice], config: RuntimeConfig) {
        guard !netDevices.isEmpty else { return }
        if !config.hasNamespace(.network) {
            report("linux.netDevices", "moving a device needs the container's own network namespace; add {\"type\": \"network\"} to linux.namespaces")
        }
        var owners: [String: String] = [:]
        for (hostName, device) in netDevices.sorted(by: { $0.key < $1.key }) {
            if !NetDevice.isValidName(hostName) {
                report("linux.netDevices", "\(quoted(hostName)) is not a network device name (1 to 15 bytes, no '/', ':' or spaces)")
                continue
            }
            let target = device.containerName(hostName: hostName)
            if !NetDevice.isValidName(target) {
                report("linux.netDevices.\(hostName).name", "\(quoted(target)) is not a network device name (1 to 15 bytes, no '/', ':' or spaces)")
            } else if let other = owners[target] {
                report("linux.netDevices.\(hostName).name", "\(quoted(target)) is also the container's name for \(quoted(other)); names in one namespace must differ")
            } else {
                owners[target] = hostName
            }
        }
    }
}
