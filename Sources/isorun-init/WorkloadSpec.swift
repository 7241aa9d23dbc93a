import CIsorunInit

/// The process the host asked for, assembled from control messages.
struct WorkloadSpec {
    var arguments: [String] = []
    var environment: [String] = []
    var workingDirectory = "/"
    var uid: UInt32 = 0
    var gid: UInt32 = 0
    var groups: [UInt32] = []
    var hostname: String?
    var domainname: String?
    var limits: [(resource: Int32, soft: UInt64, hard: UInt64)] = []
    /// sched_setattr(2)'s policy, flags, nice, priority, runtime, deadline and period.
    var scheduler: (UInt32, UInt64, Int32, UInt32, UInt64, UInt64, UInt64)?
    var ioPriority: Int32?
    var umask: UInt32?
    var oomScoreAdjustment: Int32?
    var sysctls: [(key: String, value: String)] = []
    var processLimit: Int64?
    var rootDisk: (device: String, filesystem: String, readOnly: Bool)?
    var readOnlyRoot = false
    /// The bundle's tmpfs and bind mounts, in its order.
    var mounts: [GuestMount] = []
    /// effective, permitted, inheritable, bounding, ambient; nil: keep init's (all).
    var capabilities: (UInt64, UInt64, UInt64, UInt64, UInt64)?
    var noNewPrivileges = false
    var seccompProgram: [UInt8] = []
    var seccompFlags: UInt32 = 0
    var startContainerHooks: [(path: String, arguments: [String], environment: [String], timeoutSeconds: Int)] = []
    var hookState = ""
    var terminal: (rows: UInt16, columns: UInt16)?
    /// stdin comes as `input` messages (typed at the host's terminal), through a pipe.
    var typedInput = false
    /// The container's network interfaces and routes (link routes before those through a gateway).
    var interfaces: [(name: String, mac: [UInt8], mtu: Int32, address: UInt32, prefixLength: Int)] = []
    var routes: [(destination: UInt32, prefixLength: Int, gateway: UInt32, device: String)] = []
    var addresses6: [(device: String, address: [UInt8], prefixLength: Int)] = []
    var routes6: [(destination: [UInt8], prefixLength: Int, gateway: [UInt8], device: String)] = []
    /// Offsets for a time namespace ("" for none), or nil without one.
    var timeOffsets: String?

    mutating func apply(_ message: GuestMessage) {
        switch message {
        case .argument(let value): arguments.append(value)
        case .environment(let value): environment.append(value)
        case .workingDirectory(let value): workingDirectory = value
        case .user(let uid, let gid, let groups): (self.uid, self.gid, self.groups) = (uid, gid, groups)
        case .hostname(let value): hostname = value
        case .domainname(let value): domainname = value
        case .resourceLimit(let resource, let soft, let hard): limits.append((resource, soft, hard))
        case .scheduler(let policy, let flags, let nice, let priority, let runtime, let deadline, let period):
            scheduler = (policy, flags, nice, priority, runtime, deadline, period)
        case .ioPriority(let value): ioPriority = value
        case .umask(let mask): umask = mask
        case .oomScoreAdjustment(let score): oomScoreAdjustment = score
        case .sysctl(let key, let value): sysctls.append((key, value))
        case .processLimit(let limit): processLimit = limit
        case .rootDisk(let device, let filesystem, let readOnly): rootDisk = (device, filesystem, readOnly)
        case .readOnlyRoot: readOnlyRoot = true
        case .tmpfs(let destination, let options): mounts.append(.tmpfs(destination: destination, options: options))
        case .bind(let name, let destination, let flags, let isFile):
            mounts.append(.bind(name: name, destination: destination, flags: flags, isFile: isFile))
        case .capabilities(let effective, let permitted, let inheritable, let bounding, let ambient):
            capabilities = (effective, permitted, inheritable, bounding, ambient)
        case .noNewPrivileges: noNewPrivileges = true
        case .seccompFilter(let program): seccompProgram = program
        case .seccompFlags(let flags): seccompFlags = flags
        case .startContainerHook(let path, let arguments, let environment, let timeout):
            startContainerHooks.append((path, arguments, environment, timeout))
        case .hookState(let document): hookState = document
        case .terminal(let rows, let columns): terminal = (rows, columns)
        case .typedInput: typedInput = true
        case .networkInterface(let name, let mac, let mtu, let address, let prefixLength):
            interfaces.append((name, mac, mtu, address, prefixLength))
        case .route(let destination, let prefixLength, let gateway, let device):
            routes.append((destination, prefixLength, gateway, device))
        case .networkAddress6(let device, let address, let prefixLength): addresses6.append((device, address, prefixLength))
        case .route6(let destination, let prefixLength, let gateway, let device):
            routes6.append((destination, prefixLength, gateway, device))
        case .timeNamespace(let offsets): timeOffsets = offsets
        default: break
        }
    }

    var searchPath: String {
        environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    }
}

/// A mount of the bundle's that the guest makes itself.
enum GuestMount {
    case tmpfs(destination: String, options: String)
    /// Entry `name` of the host's bind share.
    case bind(name: String, destination: String, flags: UInt, isFile: Bool)
}
