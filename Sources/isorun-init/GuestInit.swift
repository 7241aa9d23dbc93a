import CIsorunInit

enum GuestInit {
    nonisolated(unsafe) static var control: Int32 = -1

    /// The container's interfaces, each the virtio-net device the host gave its MAC.
    static func configureNetwork(_ spec: WorkloadSpec) {
        for interface in spec.interfaces {
            var step: UnsafePointer<CChar>? = nil
            if isorun_guest_configure_interface(interface.mac, interface.name, interface.mtu, interface.address,
                                                Int32(interface.prefixLength), &step) != 0 {
                fail("network interface \(interface.name): \(step.map { String(cString: $0) } ?? "configure"): \(errnoText())")
            }
        }
        for route in spec.routes
        where isorun_guest_add_route(route.destination, Int32(route.prefixLength), route.gateway, route.device) != 0 {
            fail("route to \(DottedQuad.format(route.destination))/\(route.prefixLength) via \(DottedQuad.format(route.gateway)) on \(route.device): \(errnoText())")
        }
        for entry in spec.addresses6 where isorun_guest_add_address6(entry.device, entry.address, Int32(entry.prefixLength)) != 0 {
            fail("IPv6 address \(Hex.encode(entry.address))/\(entry.prefixLength) on \(entry.device): \(errnoText())")
        }
        for route in spec.routes6
        where isorun_guest_add_route6(route.destination, Int32(route.prefixLength), route.gateway, route.device) != 0 {
            fail("IPv6 route to \(Hex.encode(route.destination))/\(route.prefixLength) on \(route.device): \(errnoText())")
        }
    }

    static func run() -> Never {
        mountEssentials()
        loadModules()
        let attached = VirtioPorts.attachedByHost()
        let ports = VirtioPorts.find(attached)
        guard let controlPath = ports[GuestPorts.control] else { fail("no \(GuestPorts.control) virtio port") }
        control = isorun_guest_open(controlPath, O_RDWR | O_CLOEXEC)
        guard control >= 0 else { fail("open \(controlPath): \(errnoText())") }
        for name in attached where ports[name] == nil { fail("no \(name) virtio port") }
        send(.ready)
        // After `ready`: the host may still be running its hooks.
        if isorun_guest_loopback_up() != 0 { fail("bring up lo: \(errnoText())") }

        var spec = WorkloadSpec()
        var lines = LineBuffer()
        // Input typed at the host's terminal (and signals for the process) can come before
        // `start`, or in the same read as it: the supervisor gets them once the process
        // runs, in order, instead of losing them here.
        var forTheProcess: [Substring] = []
        receiving: while true {
            let bytes = readSome(control)
            if bytes.isEmpty { fail("control port closed before start") }
            let batch = lines.append(bytes)
            for (index, line) in batch.enumerated() {
                guard let message = GuestMessage(line: line) else { continue }
                switch message {
                case .start:
                    forTheProcess += batch[(index + 1)...]
                    break receiving
                case .input, .inputEnd, .signal: forTheProcess.append(line)
                default: spec.apply(message)
                }
            }
        }
        lines.putBack(forTheProcess)
        configureNetwork(spec)
        // The share is mounted in the initramfs, before a disk root (maybe read-only) hides it.
        let share = BindShare(needed: spec.mounts.contains { if case .bind = $0 { true } else { false } })
        if let disk = spec.rootDisk { RootSwitch.mount(disk.device, filesystem: disk.filesystem, readOnly: disk.readOnly) }
        for mount in spec.mounts {
            switch mount {
            case .tmpfs(let destination, let options):
                if !["/dev", "/dev/shm", "/proc", "/sys"].contains(destination) { RootSwitch.mountTmpfs(on: destination, options: options) }
            case .bind(let name, let destination, let flags, let isFile):
                share.bind(name, at: destination, flags: flags, isFile: isFile)
            }
        }
        share.detach()
        if spec.readOnlyRoot { RootSwitch.remountReadOnly() }
        if let hostname = spec.hostname { _ = sethostname(hostname, hostname.utf8.count) }
        if let domainname = spec.domainname { _ = setdomainname(domainname, domainname.utf8.count) }
        for (key, value) in spec.sysctls { writeSysctl(key, value) }
        if let limit = spec.processLimit { limitThreads(to: limit) }
        let portStreams = Supervision.Streams(
            stdin: ports[GuestPorts.stdin].map { isorun_guest_open($0, O_RDONLY | O_CLOEXEC) } ?? -1,
            stdout: ports[GuestPorts.stdout].map { isorun_guest_open($0, O_WRONLY | O_CLOEXEC) } ?? -1,
            stderr: ports[GuestPorts.stderr].map { isorun_guest_open($0, O_WRONLY | O_CLOEXEC) } ?? -1)
        var streams = portStreams
        var terminal: Supervision.Terminal?
        if let size = spec.terminal {
            var replica: Int32 = -1
            let master = isorun_guest_open_pty(size.rows, size.columns, &replica)
            guard master >= 0 else { fail("open a pseudo-terminal: \(errnoText())") }
            terminal = Supervision.Terminal(master: master, replica: replica, input: portStreams.stdin, output: portStreams.stdout)
            streams = Supervision.Streams(stdin: replica, stdout: replica, stderr: replica)
        }
        // Typed input: a pipe whose read end is the process's stdin; init writes what the
        // host's `input` messages carry and closes it at `inputEnd`.
        var typed: Int32 = -1
        if spec.typedInput && terminal == nil {
            var ends: [Int32] = [-1, -1]
            guard isorun_guest_pipe(&ends) == 0, isorun_guest_set_nonblocking(ends[1]) == 0 else {
                fail("pipe for typed input: \(errnoText())")
            }
            streams.stdin = ends[0]
            typed = ends[1]
        }
        if let offsets = spec.timeOffsets, isorun_guest_unshare_time(offsets) != 0 {
            fail("time namespace (linux.timeOffsets): \(errnoText())")
        }
        Supervision.runStartContainerHooks(spec, streams: streams)
        let status = Supervision.run(spec, streams: streams, terminal: terminal, typed: typed, control: control, lines: lines)
        send(.exit(status))
        endMachine()
    }

    static func mountEssentials() {
        for (source, target, type) in [("proc", "/proc", "proc"), ("sysfs", "/sys", "sysfs"),
                                       ("devtmpfs", "/dev", "devtmpfs")] {
            mkdir(target, 0o755)
            if mount(source, target, type, 0, nil) != 0 && isorun_guest_errno() != EBUSY {
                fail("mount \(type) on \(target): \(errnoText())")
            }
        }
        mkdir("/dev/pts", 0o755)
        _ = mount("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666")
        mkdir("/dev/shm", 0o1777)
        _ = mount("shm", "/dev/shm", "tmpfs", 0, "mode=1777")
    }

    /// A stock kernel (the fallback when isorun's own cannot be built) has virtio,
    /// erofs and overlay as modules: the host puts them, dependencies first, in
    /// /.isorun/modules with their load order in /.isorun/modules/order.
    static func loadModules() {
        let order = VirtioPorts.readAll("/.isorun/modules/order")
        for name in order.split(separator: "\n") where !name.isEmpty {
            let path = "/.isorun/modules/\(name)"
            if isorun_guest_load_module(path) != 0 { fail("load module \(path): \(errnoText())") }
        }
    }

    /// Sets /proc/sys/<key>, dots as slashes; a failure ends the run like runc's does.
    static func writeSysctl(_ key: String, _ value: String) {
        let path = "/proc/sys/" + String(key.map { $0 == "." ? "/" : $0 })
        let fd = isorun_guest_open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { fail("sysctl \(key): \(errnoText())") }
        defer { close(fd) }
        guard write(fd, value, value.utf8.count) == value.utf8.count else { fail("sysctl \(key)=\(value): \(errnoText())") }
    }

    /// The guest has no cgroups: the workload's pids limit becomes the kernel's
    /// threads-max, counted on top of the threads that exist now (kernel threads and init).
    static func limitThreads(to limit: Int64) {
        // /proc/loadavg: "0.00 0.00 0.00 1/37 52", the 4th field is running/total threads.
        let fields = VirtioPorts.readLine("/proc/loadavg").split(separator: " ")
        let existing = fields.count > 3 ? Int64(fields[3].split(separator: "/").last ?? "") ?? 0 : 0
        writeSysctl("kernel.threads-max", "\(max(existing + limit, 20))")
    }

    static func send(_ message: GuestMessage) {
        guard control >= 0 else { return }
        let bytes = Array(message.line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(control, $0.baseAddress, $0.count) }
            if written < 0 && isorun_guest_errno() == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }

    static func fail(_ text: String) -> Never {
        let line = "isorun-init: \(text)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        send(.error(text))
        endMachine()
    }

    /// Ends the VM: a restart, which QEMU's -no-reboot turns into its exit. PID 1 must
    /// never return (the kernel would panic), so if the restart is refused it tries the
    /// isa-debug-exit port, then waits for the host to stop QEMU (a signal to isorun).
    /// The kernel does not refuse reboot(2) to PID 1, which holds CAP_SYS_BOOT.
    static func endMachine() -> Never {
        isorun_guest_restart()
        isorun_guest_debug_exit(125)
        while true { pause() }
    }

    /// False when the descriptor stopped taking bytes (its reader is gone).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 && isorun_guest_errno() == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    static func readSome(_ fd: Int32) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && isorun_guest_errno() == EINTR { continue }
            return count > 0 ? Array(buffer[0..<count]) : []
        }
    }

    static func errnoText() -> String { String(cString: strerror(isorun_guest_errno())) }
}

/// Finds virtio-serial ports by the names the host gave them.
enum VirtioPorts {
    /// The ports the host attached, as the kernel command line tells.
    static func attachedByHost() -> [String] {
        GuestPorts.attached(kernelParameters: readLine("/proc/cmdline").split(separator: " "))
    }

    static func find(_ names: [String]) -> [String: String] {
        var found: [String: String] = [:]
        // The driver may still be probing when init starts: wait up to a second for
        // every port named.
        for _ in 0..<100 {
            if let dir = opendir("/sys/class/virtio-ports") {
                while let entry = readdir(dir) {
                    let port = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                    if port.hasPrefix(".") { continue }
                    let name = readLine("/sys/class/virtio-ports/\(port)/name")
                    if names.contains(name), access("/dev/\(port)", F_OK) == 0 { found[name] = "/dev/\(port)" }
                }
                closedir(dir)
            }
            if found.count == names.count { break }
            usleep(10_000)
        }
        return found
    }

    static func readLine(_ path: String) -> String {
        String(readAll(path).prefix { $0 != "\n" })
    }

    /// A whole (small) file, or "" if it cannot be read.
    static func readAll(_ path: String) -> String {
        let fd = isorun_guest_open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        while true {
            let chunk = GuestInit.readSome(fd)
            if chunk.isEmpty { break }
            bytes += chunk
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
