import Glibc
import IsorunSpec
import IsorunSys

/// A host network device lent to a container (`linux.netDevices`), as its run records it:
/// enough to give it back after a crash of isorun.
public struct LentNetworkDevice: Equatable, Sendable {
    public var hostName: String
    public var containerName: String
    /// Its index in the container's namespace once moved (0 until then): found by it, a
    /// device the container renamed still goes home.
    public var index: Int32
    /// Its permanent addresses on the host, which the move drops and the return restores.
    public var addresses: [NetworkDeviceAddress]

    public init(hostName: String, containerName: String, index: Int32 = 0, addresses: [NetworkDeviceAddress]) {
        self.hostName = hostName
        self.containerName = containerName
        self.index = index
        self.addresses = addresses
    }

    /// `<host name> <container name> <index> <address>...` (device names have no spaces).
    var recordValue: String {
        ([hostName, containerName, String(index)] + addresses.map(\.recordToken)).joinedWithoutLookup(separator: " ")
    }

    init?(recordValue value: String) {
        let words = value.split(separator: " ")
        guard words.count >= 3, let index = Int32(words[2]) else { return nil }
        var addresses: [NetworkDeviceAddress] = []
        for word in words.dropFirst(3) {
            guard let address = NetworkDeviceAddress(recordToken: word) else { return nil }
            addresses.append(address)
        }
        self.init(hostName: String(words[0]), containerName: String(words[1]), index: index, addresses: addresses)
    }
}

/// The devices lent to one container, and the pinned network namespace they are in.
///
/// The namespace is bound onto a file beside the run's record before the first device
/// moves: a virtual device (veth, macvlan) dies with its namespace, and a physical one
/// falls back to the host under the container's name, so the namespace must outlive the
/// container's processes until every device is back (config-linux.md: the runtime moves
/// them back before the namespace goes). `delete`, or the sweep after a killed run,
/// finds the pin and the devices in the run's record.
public struct NetworkDeviceLoan: Sendable {
    public let pinPath: String
    public private(set) var devices: [LentNetworkDevice]

    public init(pinPath: String, devices: [LentNetworkDevice]) {
        self.pinPath = pinPath
        self.devices = devices
    }

    /// Moves each device of `requested` from isorun's namespace into `namespace` under its
    /// container name, with its permanent addresses, and sets it up. Each is recorded in
    /// `state` before it moves. On a failure the devices already moved come back, and the
    /// error names the device.
    public static func lend(_ requested: [String: NetDevice], to namespace: Int32, state: RunState,
                            configFile: String) throws(IsorunError) -> NetworkDeviceLoan {
        let pinPath = state.companionPath("netns")
        try state.recordNetworkNamespacePin(pinPath)
        do { try NetworkDevices.pin(namespace, at: pinPath) } catch {
            state.forgetNetworkNamespacePin()
            throw IsorunError("\(configFile): linux.netDevices", error)
        }
        var loan = NetworkDeviceLoan(pinPath: pinPath, devices: [])
        for (hostName, device) in requested.sorted(by: { $0.key < $1.key }) {
            let containerName = device.containerName(hostName: hostName)
            /// Everything moved so far goes back, and the record forgets the loan.
            func undo() {
                loan.giveBack()
                state.forgetNetworkNamespacePin()
            }
            func fail(_ error: SystemError) -> IsorunError {
                undo()
                return IsorunError("\(configFile): linux.netDevices.\(hostName): \(Self.explain(error, containerName: containerName))")
            }
            let addresses: [NetworkDeviceAddress]
            do { addresses = try NetworkDevices.addresses(of: hostName, in: nil) } catch { throw fail(error) }
            var lent = LentNetworkDevice(hostName: hostName, containerName: containerName, addresses: addresses)
            do { try state.recordLent(loan.devices + [lent]) } catch {
                undo()
                throw error
            }
            do { try NetworkDevices.move(hostName, from: nil, to: namespace, as: containerName) } catch { throw fail(error) }
            loan.devices.append(lent)
            do { lent.index = try NetworkDevices.configure(containerName, in: namespace, addresses: addresses, up: true) } catch {
                throw fail(error)
            }
            loan.devices[loan.devices.count - 1] = lent
            do { try state.recordLent(loan.devices) } catch {
                undo()
                throw error
            }
        }
        return loan
    }

    /// `lend` into the namespace at `path` (a network namespace the config joins).
    public static func lend(_ requested: [String: NetDevice], toNamespaceAt path: String, state: RunState,
                            configFile: String) throws(IsorunError) -> NetworkDeviceLoan {
        let namespace: Int32
        do { namespace = try Files.openForReading(path) } catch { throw IsorunError("\(configFile): linux.namespaces: network", error) }
        defer { close(namespace) }
        return try lend(requested, to: namespace, state: state, configFile: configFile)
    }

    /// What went wrong with a device, in the words of the config.
    static func explain(_ error: SystemError, containerName: String) -> String {
        switch (error.call, error.errno) {
        case ("read the addresses of network device", ENODEV): "no network device of that name on the host"
        case ("check the name in the target network namespace", EEXIST):
            "the container's network namespace already has a device named \(containerName)"
        default: "\(error)"
        }
    }

    /// Brings every device home: down, out of the container's namespace under its host
    /// name, with its host addresses again, left down (a device that comes back up could
    /// clash with addresses the host gave out meanwhile). Then lets the namespace go.
    /// A device is found by its index, so one the container renamed comes back too; one it
    /// deleted (or moved away) is reported and skipped.
    public func giveBack() {
        let namespace = open(pinPath, O_RDONLY | O_CLOEXEC)
        if namespace >= 0 {
            for device in devices.reversed() {
                do throws(SystemError) {
                    // Its name now: the container may have renamed it.
                    let current = device.index > 0 ? (try? NetworkDevices.name(of: device.index, in: namespace)) ?? device.containerName
                        : device.containerName
                    var name = device.hostName
                    do {
                        try NetworkDevices.move(current, from: namespace, to: Self.hostNamespace, as: name)
                    } catch where error.errno == EEXIST {
                        // The host has another device by that name now: home under the
                        // container's name rather than lost with the namespace.
                        name = current
                        try NetworkDevices.move(current, from: namespace, to: Self.hostNamespace, as: name)
                        Log.warning("network device \(device.hostName) came back as \(name): the host has another \(device.hostName) now")
                    }
                    try NetworkDevices.configure(name, in: nil, addresses: device.addresses, up: false)
                } catch {
                    Log.warning("network device \(device.hostName) (\(device.containerName) in the container) not given back: \(error)")
                }
            }
            close(namespace)
        } else if errno != ENOENT, !devices.isEmpty {
            // No pin at all is a loan already given back (a failed launch's cleanup runs twice).
            Log.warning("network devices \(devices.map(\.hostName)) not given back: their namespace at \(pinPath) cannot be opened")
        }
        NetworkDevices.unpin(pinPath)
    }

    /// isorun's own network namespace, where lent devices return (open for the process's life).
    private static let hostNamespace: Int32 = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
}
