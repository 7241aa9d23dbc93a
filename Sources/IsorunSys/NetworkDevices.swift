import CIsorunShim
import Glibc

/// A permanent address of a network device, carried across a change of namespace (the
/// kernel drops a device's addresses when it moves it).
public struct NetworkDeviceAddress: Equatable, Sendable {
    public var family: Int32
    public var prefixLength: Int
    public var scope: Int
    /// The device's own address: 4 bytes for IPv4, 16 for IPv6.
    public var local: [UInt8]
    /// The other end of a point-to-point link, when it has one.
    public var peer: [UInt8]?

    public init(family: Int32, prefixLength: Int, scope: Int, local: [UInt8], peer: [UInt8]? = nil) {
        self.family = family
        self.prefixLength = prefixLength
        self.scope = scope
        self.local = local
        self.peer = peer
    }

    /// One word for a run's record: `family,prefix,scope,local[,peer]`, addresses in hex.
    public var recordToken: String {
        var token = "\(family),\(prefixLength),\(scope),\(Self.hex(local))"
        if let peer { token += ",\(Self.hex(peer))" }
        return token
    }

    /// Reads `recordToken`'s form back; nil for anything else.
    public init?(recordToken token: Substring) {
        let parts = token.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 4 || parts.count == 5, let family = Int32(parts[0]), let prefix = Int(parts[1]),
              let scope = Int(parts[2]), let local = Self.bytes(hex: parts[3]) else { return nil }
        let peer = parts.count == 5 ? Self.bytes(hex: parts[4]) : nil
        if parts.count == 5 && peer == nil { return nil }
        self.init(family: family, prefixLength: prefix, scope: scope, local: local, peer: peer)
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    private static func bytes(hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 8 || digits.count == 32 else { return nil }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i...i + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    fileprivate var raw: isorun_netdev_address {
        var raw = isorun_netdev_address()
        raw.family = family
        raw.prefix = Int32(prefixLength)
        raw.scope = Int32(scope)
        withUnsafeMutableBytes(of: &raw.local) { $0.copyBytes(from: local.prefix(16)) }
        if let peer {
            withUnsafeMutableBytes(of: &raw.peer) { $0.copyBytes(from: peer.prefix(16)) }
            raw.has_peer = 1
        }
        return raw
    }

    fileprivate init(_ raw: isorun_netdev_address) {
        let size = raw.family == AF_INET ? 4 : 16
        self.init(family: raw.family, prefixLength: Int(raw.prefix), scope: Int(raw.scope),
                  local: withUnsafeBytes(of: raw.local) { Array($0.prefix(size)) },
                  peer: raw.has_peer != 0 ? withUnsafeBytes(of: raw.peer) { Array($0.prefix(size)) } : nil)
    }
}

/// Moving network devices between namespaces (the shim's network_devices.c). A namespace
/// is a descriptor of it; nil means the calling thread's own.
public enum NetworkDevices {
    /// The permanent addresses of the device `name`, IPv6 link-local ones aside.
    public static func addresses(of name: String, in namespace: Int32?) throws(SystemError) -> [NetworkDeviceAddress] {
        var raw = [isorun_netdev_address](repeating: isorun_netdev_address(), count: 64)
        let count = isorun_netdev_addresses(namespace ?? -1, name, &raw, Int32(raw.count))
        guard count >= 0 else { throw SystemError("read the addresses of network device", name, errno: -count) }
        return raw.prefix(Int(count)).map(NetworkDeviceAddress.init)
    }

    /// The current name of the device `index`.
    public static func name(of index: Int32, in namespace: Int32?) throws(SystemError) -> String {
        var raw = [CChar](repeating: 0, count: 16)
        let result = isorun_netdev_name(namespace ?? -1, index, &raw)
        guard result == 0 else { throw SystemError("find network device", "\(index)", errno: -result) }
        return String(decoding: raw.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Sets the device `name` down and moves it from `source` into `target` as `newName`.
    public static func move(_ name: String, from source: Int32?, to target: Int32, as newName: String) throws(SystemError) {
        var step: UnsafePointer<CChar>? = nil
        let result = isorun_netdev_move(source ?? -1, name, target, newName, &step)
        guard result >= 0 else { throw SystemError(step.map { String(cString: $0) } ?? "move", name, errno: -result) }
    }

    /// Gives the device `name` `addresses` and, with `up`, sets it up. Returns its index,
    /// which survives renames inside its namespace.
    @discardableResult
    public static func configure(_ name: String, in namespace: Int32?, addresses: [NetworkDeviceAddress],
                                 up: Bool) throws(SystemError) -> Int32 {
        let raw = addresses.map(\.raw)
        var step: UnsafePointer<CChar>? = nil
        let result = isorun_netdev_configure(namespace ?? -1, name, raw, Int32(raw.count), up ? 1 : 0, &step)
        guard result >= 0 else { throw SystemError(step.map { String(cString: $0) } ?? "configure", name, errno: -result) }
        return result
    }

    /// Keeps the network namespace `namespace` alive after its last process is gone, by
    /// binding it onto `path` (a new empty file), as `ip netns add` does.
    public static func pin(_ namespace: Int32, at path: String) throws(SystemError) {
        let fd = retryingOnInterrupt { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { throw SystemError("create", path) }
        close(fd)
        guard mount("/proc/self/fd/\(namespace)", path, nil, UInt(MS_BIND), nil) == 0 else {
            let error = SystemError("bind the network namespace onto", path)
            unlink(path)
            throw error
        }
    }

    /// Undoes `pin`; quiet when there is nothing at `path`.
    public static func unpin(_ path: String) {
        _ = umount2(path, Int32(MNT_DETACH))
        unlink(path)
    }
}
