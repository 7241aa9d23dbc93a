/// The line protocol between isorun (host) and isorun-init (guest PID 1) on the
/// VM's control port. One message per line; values are percent-escaped so that
/// arguments and environment values may hold any byte, newlines included.
///
/// host → guest: the process to run (`arg`, `env`, `cwd`, `user`, `hostname`, `domainname`,
///               `umask`, `rlimit`, `sched`, `ioprio`, `oom-score-adj`, `sysctl`, `pids`, `root` or `readonly-root`, `tmpfs` and `bind` (in the
///               bundle's order), `caps`,
///               `no-new-privs`, `seccomp` (and `seccomp-flags`), `hook` and `hook-state` for the
///               startContainer hooks, `tty` or `typed-input`, `net`, `route`, `net6` and
///               `route6` for the container's network interfaces, `time-ns`, then `start`), later
///               `signal N`, and `in`/`in-eof` for typed input.
/// guest → host: `ready` when init runs, `started` once the process has exec'd,
///               `exit N` (128+N for signal N) when it has ended, or `error TEXT` when init
///               could not run it.
///
/// `isorun exec` adds more processes to a running guest, each numbered by the host:
/// host → guest `x-arg`, `x-env`, `x-cwd`, `x-user`, `x-tty`, then `x-start`; `x-in`, `x-eof`,
/// `x-signal` and `x-tty` (a new size) while it runs; guest → host `x-out` (its stdout and stderr, in hex),
/// then `x-exit`, or `x-error` when it could not be started.
public enum GuestMessage: Equatable, Sendable {
    case argument(String)
    case environment(String)
    case workingDirectory(String)
    case user(uid: UInt32, gid: UInt32, groups: [UInt32])
    case hostname(String)
    case domainname(String)
    case resourceLimit(resource: Int32, soft: UInt64, hard: UInt64)
    /// `process.user.umask`.
    case umask(UInt32)
    /// `process.scheduler` as sched_setattr(2) takes it.
    case scheduler(policy: UInt32, flags: UInt64, nice: Int32, priority: UInt32, runtime: UInt64, deadline: UInt64, period: UInt64)
    /// `process.ioPriority` as ioprio_set(2) takes it.
    case ioPriority(Int32)
    /// `process.oomScoreAdj`, for the guest's OOM killer.
    case oomScoreAdjustment(Int32)
    /// A kernel parameter for the whole guest, e.g. `kernel.threads-max`.
    case sysctl(key: String, value: String)
    /// How many processes the workload may have at once (its pids limit).
    case processLimit(Int64)
    /// The rootfs is on a disk rather than in the initramfs: mount it as the root.
    case rootDisk(device: String, filesystem: String, readOnly: Bool)
    /// The rootfs is the initramfs and the bundle wants it read-only (`root.readonly`).
    case readOnlyRoot
    /// A tmpfs from the bundle's `mounts`, with its options ("nosuid,mode=1777,size=…").
    case tmpfs(destination: String, options: String)
    /// A bind mount from the bundle's `mounts`: entry `name` of the host's share (the 9p
    /// tag `GuestPorts.bindShare`), bound at `destination` (a file when `isFile`) and
    /// remounted with `flags` (mount(2)'s MS_RDONLY, MS_NOSUID, …; 0 for none).
    case bind(name: String, destination: String, flags: UInt, isFile: Bool)
    /// An interface of the container's network namespace, which the guest has as the
    /// virtio-net device with this MAC: renamed `name`, given `mtu` and the IPv4 address
    /// (most significant byte first; 0: none) with its prefix length, and brought up.
    case networkInterface(name: String, mac: [UInt8], mtu: Int32, address: UInt32, prefixLength: Int)
    /// A route of the namespace: to `destination`/`prefixLength` on `device`, through
    /// `gateway` (0: the destination is on the link).
    case route(destination: UInt32, prefixLength: Int, gateway: UInt32, device: String)
    /// A global IPv6 address of the interface `device` (already configured by `net`).
    case networkAddress6(device: String, address: [UInt8], prefixLength: Int)
    /// An IPv6 route: to `prefixLength` bits of `destination` on `device`, through
    /// `gateway` (all zeros: on the link).
    case route6(destination: [UInt8], prefixLength: Int, gateway: [UInt8], device: String)
    /// A time namespace for the process (and later `exec`s), with these lines for
    /// /proc/self/timens_offsets ("monotonic S NS\n…"; empty: no offsets).
    case timeNamespace(offsets: String)
    /// The process's capability sets as bit masks (bit N is capability N).
    case capabilities(effective: UInt64, permitted: UInt64, inheritable: UInt64, bounding: UInt64, ambient: UInt64)
    case noNewPrivileges
    /// A seccomp filter compiled on the host: raw BPF, 8 bytes per instruction.
    case seccompFilter([UInt8])
    /// seccomp(2) flags the filter is loaded with (SECCOMP_FILTER_FLAG_LOG, ...).
    case seccompFlags(UInt32)
    /// A startContainer hook (config.md): run in the guest after `start`, before the
    /// process, as the process would be (same user, capabilities, filter). 0: no timeout.
    case startContainerHook(path: String, arguments: [String], environment: [String], timeoutSeconds: Int)
    /// The state document the hooks read on stdin.
    case hookState(String)
    /// `process.terminal`: the process gets a pseudo-terminal of this size (0: default) as
    /// its controlling terminal and stdio; the stdin and stdout ports carry its two directions.
    /// Sent again while it runs, a new size (the console was resized).
    case terminal(rows: UInt16, columns: UInt16)
    /// The process's stdin is typed at the host's terminal (no `process.terminal`): it
    /// arrives as `input` messages, and `inputEnd` (^D on an empty line) ends it.
    case typedInput
    case input([UInt8])
    case inputEnd
    case start
    case signal(Int32)
    case execArgument(id: Int, String)
    case execEnvironment(id: Int, String)
    case execWorkingDirectory(id: Int, String)
    case execUser(id: Int, uid: UInt32, gid: UInt32)
    /// A pseudo-terminal for the process (before `execStart`), or its new size (after).
    case execTerminal(id: Int, rows: UInt16, columns: UInt16)
    /// The process is described: start it as the workload runs (capabilities, filter, limits).
    case execStart(id: Int)
    case execInput(id: Int, [UInt8])
    /// End of its standard input.
    case execInputEnd(id: Int)
    case execSignal(id: Int, Int32)
    /// Output of the process on `stream` (1 or 2).
    case execOutput(id: Int, stream: Int32, [UInt8])
    /// Its status in shell form, sent once its output has been sent.
    case execExit(id: Int, Int32)
    case execError(id: Int, String)
    case ready
    /// The process has exec'd: what a container's `start` waits for, as runc's does.
    case started
    case exit(Int32)
    case error(String)

    /// The message as one line, newline included.
    public var line: String {
        switch self {
        case .argument(let value): "arg \(Escaping.escape(value))\n"
        case .environment(let value): "env \(Escaping.escape(value))\n"
        case .workingDirectory(let value): "cwd \(Escaping.escape(value))\n"
        case .user(let uid, let gid, let groups): "user \(uid) \(gid) \(groups.map(String.init).joined(separator: ","))\n"
        case .hostname(let value): "hostname \(Escaping.escape(value))\n"
        case .domainname(let value): "domainname \(Escaping.escape(value))\n"
        case .resourceLimit(let resource, let soft, let hard): "rlimit \(resource) \(soft) \(hard)\n"
        case .scheduler(let policy, let flags, let nice, let priority, let runtime, let deadline, let period):
            "sched \(policy) \(flags) \(nice) \(priority) \(runtime) \(deadline) \(period)\n"
        case .ioPriority(let value): "ioprio \(value)\n"
        case .umask(let mask): "umask \(mask)\n"
        case .oomScoreAdjustment(let score): "oom-score-adj \(score)\n"
        case .sysctl(let key, let value): "sysctl \(Escaping.escape(key)) \(Escaping.escape(value))\n"
        case .processLimit(let limit): "pids \(limit)\n"
        case .rootDisk(let device, let filesystem, let readOnly):
            "root \(Escaping.escape(device)) \(Escaping.escape(filesystem)) \(readOnly ? "ro" : "rw")\n"
        case .readOnlyRoot: "readonly-root\n"
        case .tmpfs(let destination, let options): "tmpfs \(Escaping.escape(destination)) \(Escaping.escape(options))\n"
        case .bind(let name, let destination, let flags, let isFile):
            "bind \(Escaping.escape(name)) \(Escaping.escape(destination)) \(flags) \(isFile ? "file" : "dir")\n"
        case .networkInterface(let name, let mac, let mtu, let address, let prefixLength):
            "net \(Escaping.escape(name)) \(Hex.encode(mac)) \(mtu) \(DottedQuad.format(address))/\(prefixLength)\n"
        case .route(let destination, let prefixLength, let gateway, let device):
            "route \(DottedQuad.format(destination))/\(prefixLength) \(DottedQuad.format(gateway)) \(Escaping.escape(device))\n"
        case .networkAddress6(let device, let address, let prefixLength):
            "net6 \(Escaping.escape(device)) \(Hex.encode(address))/\(prefixLength)\n"
        case .route6(let destination, let prefixLength, let gateway, let device):
            "route6 \(Hex.encode(destination))/\(prefixLength) \(Hex.encode(gateway)) \(Escaping.escape(device))\n"
        case .timeNamespace(let offsets): "time-ns \(Escaping.escape(offsets))\n"
        case .capabilities(let effective, let permitted, let inheritable, let bounding, let ambient):
            "caps \([effective, permitted, inheritable, bounding, ambient].map { String($0, radix: 16) }.joined(separator: " "))\n"
        case .noNewPrivileges: "no-new-privs\n"
        case .seccompFilter(let program): "seccomp \(Hex.encode(program))\n"
        case .seccompFlags(let flags): "seccomp-flags \(flags)\n"
        case .startContainerHook(let path, let arguments, let environment, let timeout):
            (["hook", String(timeout), Escaping.escape(path), String(arguments.count)]
                + (arguments + environment).map(Escaping.escape)).joined(separator: " ") + "\n"
        case .hookState(let document): "hook-state \(Escaping.escape(document))\n"
        case .terminal(let rows, let columns): "tty \(rows) \(columns)\n"
        case .typedInput: "typed-input\n"
        case .input(let bytes): "in \(Hex.encode(bytes))\n"
        case .inputEnd: "in-eof\n"
        case .start: "start\n"
        case .signal(let number): "signal \(number)\n"
        case .execArgument(let id, let value): "x-arg \(id) \(Escaping.escape(value))\n"
        case .execEnvironment(let id, let value): "x-env \(id) \(Escaping.escape(value))\n"
        case .execWorkingDirectory(let id, let value): "x-cwd \(id) \(Escaping.escape(value))\n"
        case .execUser(let id, let uid, let gid): "x-user \(id) \(uid) \(gid)\n"
        case .execTerminal(let id, let rows, let columns): "x-tty \(id) \(rows) \(columns)\n"
        case .execStart(let id): "x-start \(id)\n"
        case .execInput(let id, let bytes): "x-in \(id) \(Hex.encode(bytes))\n"
        case .execInputEnd(let id): "x-eof \(id)\n"
        case .execSignal(let id, let number): "x-signal \(id) \(number)\n"
        case .execOutput(let id, let stream, let bytes): "x-out \(id) \(stream) \(Hex.encode(bytes))\n"
        case .execExit(let id, let status): "x-exit \(id) \(status)\n"
        case .execError(let id, let text): "x-error \(id) \(Escaping.escape(text))\n"
        case .ready: "ready\n"
        case .started: "started\n"
        case .exit(let status): "exit \(status)\n"
        case .error(let text): "error \(Escaping.escape(text))\n"
        }
    }

    /// "<32 hex digits>/<0-128>".
    static func ipv6Prefix(_ text: Substring) -> ([UInt8], Int)? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = Hex.decode(parts[0]), address.count == 16,
              let prefixLength = Int(parts[1]), (0...128).contains(prefixLength) else { return nil }
        return (address, prefixLength)
    }

    /// Parses one line (without its newline); nil for anything unknown or malformed.
    public init?(line: Substring) {
        let space = line.firstIndex(of: " ")
        let verb = space.map { line[..<$0] } ?? line
        let rest = space.map { line[line.index(after: $0)...] } ?? ""
        switch verb {
        case "arg": self = .argument(Escaping.unescape(rest))
        case "env": self = .environment(Escaping.unescape(rest))
        case "cwd": self = .workingDirectory(Escaping.unescape(rest))
        case "hostname": self = .hostname(Escaping.unescape(rest))
        case "domainname": self = .domainname(Escaping.unescape(rest))
        case "error": self = .error(Escaping.unescape(rest))
        case "sysctl":
            let fields = rest.split(separator: " ", maxSplits: 1)
            guard fields.count == 2 else { return nil }
            self = .sysctl(key: Escaping.unescape(fields[0]), value: Escaping.unescape(fields[1]))
        case "root":
            let fields = rest.split(separator: " ")
            guard fields.count == 3, fields[2] == "ro" || fields[2] == "rw" else { return nil }
            self = .rootDisk(device: Escaping.unescape(fields[0]), filesystem: Escaping.unescape(fields[1]),
                             readOnly: fields[2] == "ro")
        case "pids":
            guard let limit = Int64(rest) else { return nil }
            self = .processLimit(limit)
        case "readonly-root": self = .readOnlyRoot
        case "tmpfs":
            let fields = rest.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2 else { return nil }
            self = .tmpfs(destination: Escaping.unescape(fields[0]), options: Escaping.unescape(fields[1]))
        case "bind":
            let fields = rest.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 4, let flags = UInt(fields[2]), fields[3] == "file" || fields[3] == "dir" else { return nil }
            self = .bind(name: Escaping.unescape(fields[0]), destination: Escaping.unescape(fields[1]),
                         flags: flags, isFile: fields[3] == "file")
        case "net":
            let fields = rest.split(separator: " ")
            guard fields.count == 4, let mac = Hex.decode(fields[1]), mac.count == 6, let mtu = Int32(fields[2]) else { return nil }
            let cidr = fields[3].split(separator: "/")
            guard cidr.count == 2, let address = DottedQuad.parse(cidr[0]), let prefixLength = Int(cidr[1]),
                  (0...32).contains(prefixLength) else { return nil }
            self = .networkInterface(name: Escaping.unescape(fields[0]), mac: mac, mtu: mtu, address: address,
                                     prefixLength: prefixLength)
        case "route":
            let fields = rest.split(separator: " ")
            guard fields.count == 3, let gateway = DottedQuad.parse(fields[1]) else { return nil }
            let cidr = fields[0].split(separator: "/")
            guard cidr.count == 2, let destination = DottedQuad.parse(cidr[0]), let prefixLength = Int(cidr[1]),
                  (0...32).contains(prefixLength) else { return nil }
            self = .route(destination: destination, prefixLength: prefixLength, gateway: gateway, device: Escaping.unescape(fields[2]))
        case "time-ns": self = .timeNamespace(offsets: Escaping.unescape(rest))
        case "net6":
            let fields = rest.split(separator: " ")
            guard fields.count == 2, let (address, prefixLength) = Self.ipv6Prefix(fields[1]) else { return nil }
            self = .networkAddress6(device: Escaping.unescape(fields[0]), address: address, prefixLength: prefixLength)
        case "route6":
            let fields = rest.split(separator: " ")
            guard fields.count == 3, let (destination, prefixLength) = Self.ipv6Prefix(fields[0]),
                  let gateway = Hex.decode(fields[1]), gateway.count == 16 else { return nil }
            self = .route6(destination: destination, prefixLength: prefixLength, gateway: gateway, device: Escaping.unescape(fields[2]))
        case "caps":
            let masks = rest.split(separator: " ").compactMap { UInt64($0, radix: 16) }
            guard masks.count == 5 else { return nil }
            self = .capabilities(effective: masks[0], permitted: masks[1], inheritable: masks[2], bounding: masks[3], ambient: masks[4])
        case "no-new-privs": self = .noNewPrivileges
        case "seccomp":
            guard let program = Hex.decode(rest), !program.isEmpty, program.count % 8 == 0 else { return nil }
            self = .seccompFilter(program)
        case "seccomp-flags":
            guard let flags = UInt32(rest) else { return nil }
            self = .seccompFlags(flags)
        case "hook":
            let fields = rest.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count >= 3, let timeout = Int(fields[0]), timeout >= 0, let count = Int(fields[2]),
                  count >= 0, fields.count >= 3 + count else { return nil }
            let values = fields.dropFirst(3).map(Escaping.unescape)
            self = .startContainerHook(path: Escaping.unescape(fields[1]), arguments: Array(values.prefix(count)),
                                       environment: Array(values.dropFirst(count)), timeoutSeconds: timeout)
        case "hook-state": self = .hookState(Escaping.unescape(rest))
        case "tty":
            let size = rest.split(separator: " ").compactMap { UInt16($0) }
            guard size.count == 2 else { return nil }
            self = .terminal(rows: size[0], columns: size[1])
        case "start": self = .start
        case "typed-input": self = .typedInput
        case "in":
            guard let bytes = Hex.decode(rest) else { return nil }
            self = .input(bytes)
        case "in-eof": self = .inputEnd
        case "ready": self = .ready
        case "started": self = .started
        case "signal":
            guard let number = Int32(rest) else { return nil }
            self = .signal(number)
        case "exit":
            guard let status = Int32(rest) else { return nil }
            self = .exit(status)
        case "user":
            let fields = rest.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 3, let uid = UInt32(fields[0]), let gid = UInt32(fields[1]) else { return nil }
            let groups = fields[2].split(separator: ",").compactMap { UInt32($0) }
            self = .user(uid: uid, gid: gid, groups: groups)
        case "rlimit":
            let fields = rest.split(separator: " ")
            guard fields.count == 3, let resource = Int32(fields[0]), let soft = UInt64(fields[1]),
                  let hard = UInt64(fields[2]) else { return nil }
            self = .resourceLimit(resource: resource, soft: soft, hard: hard)
        case "sched":
            let fields = rest.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 7, let policy = UInt32(fields[0]), let flags = UInt64(fields[1]), let nice = Int32(fields[2]),
                  let priority = UInt32(fields[3]), let runtime = UInt64(fields[4]), let deadline = UInt64(fields[5]),
                  let period = UInt64(fields[6]) else { return nil }
            self = .scheduler(policy: policy, flags: flags, nice: nice, priority: priority, runtime: runtime,
                              deadline: deadline, period: period)
        case "umask":
            guard let mask = UInt32(rest), mask <= 0o777 else { return nil }
            self = .umask(mask)
        case "ioprio":
            guard let value = Int32(rest) else { return nil }
            self = .ioPriority(value)
        case "oom-score-adj":
            guard let score = Int32(rest) else { return nil }
            self = .oomScoreAdjustment(score)
        default:
            guard verb.hasPrefix("x-"), let message = Self.exec(verb.dropFirst(2), rest) else { return nil }
            self = message
        }
    }

    /// The `x-` messages: `VERB ID REST`.
    private static func exec(_ verb: Substring, _ line: Substring) -> GuestMessage? {
        let fields = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard let id = fields.first.flatMap({ Int($0) }), id >= 0 else { return nil }
        let rest = fields.count > 1 ? fields[1] : ""
        switch verb {
        case "arg": return .execArgument(id: id, Escaping.unescape(rest))
        case "env": return .execEnvironment(id: id, Escaping.unescape(rest))
        case "cwd": return .execWorkingDirectory(id: id, Escaping.unescape(rest))
        case "error": return .execError(id: id, Escaping.unescape(rest))
        case "user":
            let ids = rest.split(separator: " ").compactMap { UInt32($0) }
            return ids.count == 2 ? .execUser(id: id, uid: ids[0], gid: ids[1]) : nil
        case "tty":
            let size = rest.split(separator: " ").compactMap { UInt16($0) }
            return size.count == 2 ? .execTerminal(id: id, rows: size[0], columns: size[1]) : nil
        case "start": return fields.count == 1 ? .execStart(id: id) : nil
        case "eof": return fields.count == 1 ? .execInputEnd(id: id) : nil
        case "in": return Hex.decode(rest).map { .execInput(id: id, $0) }
        case "signal": return Int32(rest).map { .execSignal(id: id, $0) }
        case "exit": return Int32(rest).map { .execExit(id: id, $0) }
        case "out":
            let parts = rest.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let stream = Int32(parts[0]), stream == 1 || stream == 2,
                  let bytes = Hex.decode(parts[1]) else { return nil }
            return .execOutput(id: id, stream: stream, bytes)
        default: return nil
        }
    }

    /// The exec process a message is about, if it is an `x-` message.
    public var execID: Int? {
        switch self {
        case .execArgument(let id, _), .execEnvironment(let id, _), .execWorkingDirectory(let id, _), .execUser(let id, _, _),
             .execTerminal(let id, _, _), .execStart(let id), .execInput(let id, _), .execInputEnd(let id), .execSignal(let id, _),
             .execOutput(let id, _, _), .execExit(let id, _), .execError(let id, _):
            id
        default: nil
        }
    }

    /// The same message about exec process `id`.
    public func renumbered(_ id: Int) -> GuestMessage {
        switch self {
        case .execArgument(_, let value): .execArgument(id: id, value)
        case .execEnvironment(_, let value): .execEnvironment(id: id, value)
        case .execWorkingDirectory(_, let value): .execWorkingDirectory(id: id, value)
        case .execUser(_, let uid, let gid): .execUser(id: id, uid: uid, gid: gid)
        case .execTerminal(_, let rows, let columns): .execTerminal(id: id, rows: rows, columns: columns)
        case .execStart: .execStart(id: id)
        case .execInput(_, let bytes): .execInput(id: id, bytes)
        case .execInputEnd: .execInputEnd(id: id)
        case .execSignal(_, let number): .execSignal(id: id, number)
        case .execOutput(_, let stream, let bytes): .execOutput(id: id, stream: stream, bytes)
        case .execExit(_, let status): .execExit(id: id, status)
        case .execError(_, let text): .execError(id: id, text)
        default: self
        }
    }
}

/// Splits a byte stream into lines as they arrive.
public struct LineBuffer {
    private var pending: [UInt8] = []

    public init() {}

    /// Adds bytes and returns every line they complete.
    public mutating func append(_ bytes: some Sequence<UInt8>) -> [Substring] {
        pending.append(contentsOf: bytes)
        var lines: [Substring] = []
        while let newline = pending.firstIndex(of: 0x0a) {
            lines.append(Substring(decoding: pending[..<newline], as: UTF8.self))
            pending.removeSubrange(...newline)
        }
        return lines
    }

    /// Puts `lines` back ahead of what is pending, for the next `append` to return first:
    /// lines read before their reader was ready for them.
    public mutating func putBack(_ lines: [Substring]) {
        var bytes: [UInt8] = []
        for line in lines {
            bytes.append(contentsOf: line.utf8)
            bytes.append(0x0a)
        }
        pending.insert(contentsOf: bytes, at: 0)
    }
}

/// Bytes as lowercase hexadecimal, two digits each (a BPF program in one line).
/// IPv4 addresses as people write them, so that `--debug` logs of the protocol read plainly.
enum DottedQuad {
    static func format(_ address: UInt32) -> String {
        "\(address >> 24).\(address >> 16 & 0xff).\(address >> 8 & 0xff).\(address & 0xff)"
    }

    static func parse(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var address: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, let byte = UInt8(part) else { return nil }
            address = address << 8 | UInt32(byte)
        }
        return address
    }
}

enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes { text += [digits[Int(byte >> 4)], digits[Int(byte & 0xf)]] }
        return String(decoding: text, as: UTF8.self)
    }

    /// nil unless every character is a hex digit and they come in pairs.
    static func decode(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = Escaping.hexValue(digits[index]), let low = Escaping.hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

/// Percent-escaping of the bytes that would break the line format (spaces separate fields).
enum Escaping {
    static func escape(_ value: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in value.utf8 {
            if byte == 0x25 || byte == 0x0a || byte == 0x0d || byte == 0x00 || byte == 0x20 {
                bytes += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func unescape(_ value: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(value.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == 0x25, let high = iterator.next(), let low = iterator.next(),
               let h = hexValue(high), let l = hexValue(low) {
                bytes.append(h << 4 | l)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
