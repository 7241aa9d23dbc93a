import IsorunGuestProtocol
import Testing

struct GuestMessageTests {
    static let messages: [GuestMessage] = [
        .argument("sh"), .argument("-c"), .argument("printf 'a\nb%%' \r end"),
        .environment("PATH=/bin"), .environment("EMPTY="), .workingDirectory("/srv/my dir"),
        .user(uid: 1000, gid: 1000, groups: [4, 27]), .user(uid: 0, gid: 0, groups: []),
        .hostname("vm1"), .domainname("example.test"), .resourceLimit(resource: 7, soft: 1024, hard: 4096),
        .scheduler(policy: 6, flags: 1, nice: -3, priority: 0, runtime: 1_000_000, deadline: 2_000_000, period: 0),
        .ioPriority(24580), .oomScoreAdjustment(-999), .umask(0o027), .sysctl(key: "net.ipv4.ip_forward", value: "1 2"), .processLimit(64), .rootDisk(device: "/dev/vda", filesystem: "erofs", readOnly: false), .readOnlyRoot, .tmpfs(destination: "/tmp", options: "nosuid,mode=1777"), .tmpfs(destination: "/run", options: ""),
        .bind(name: "0", destination: "/srv/my data", flags: 0x3, isFile: false), .bind(name: "1", destination: "/etc/hosts", flags: 0, isFile: true),
        .networkInterface(name: "eth0", mac: [0x02, 0x42, 0xac, 0x11, 0x00, 0xff], mtu: 1450, address: 0x0a58_0002, prefixLength: 16),
        .networkInterface(name: "net 1", mac: [0, 0, 0, 0, 0, 1], mtu: 65535, address: 0xffff_ffff, prefixLength: 32),
        .route(destination: 0, prefixLength: 0, gateway: 0x0a58_0001, device: "eth0"),
        .route(destination: 0xa9fe_0101, prefixLength: 32, gateway: 0, device: "eth 0"),
        .networkAddress6(device: "eth0", address: Array(0..<16), prefixLength: 64),
        .timeNamespace(offsets: "1 259200 5\n7 604800 0\n"), .timeNamespace(offsets: ""),
        .route6(destination: [UInt8](repeating: 0, count: 16), prefixLength: 0, gateway: [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [1], device: "eth0"),
        .capabilities(effective: 0x2000_0420, permitted: 0x2000_0420, inheritable: 0, bounding: 0x1ff_ffff_ffff, ambient: 1 << 63),
        .noNewPrivileges, .seccompFilter([0x20, 0, 0, 0, 4, 0, 0, 0, 0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]), .seccompFlags(6), .typedInput, .input([0x68, 0x69, 0x0a]), .input([]), .inputEnd,
        .startContainerHook(path: "/bin/sh", arguments: ["sh", "-c", "read s; echo \"$s\" > /x y", ""], environment: ["A=1 2", ""],
                            timeoutSeconds: 5),
        .startContainerHook(path: "/hooks/a b", arguments: [], environment: [], timeoutSeconds: 0),
        .terminal(rows: 24, columns: 80), .execTerminal(id: 3, rows: 50, columns: 132),
        .execArgument(id: 1, "a b"), .execEnvironment(id: 1, "K=v w"), .execWorkingDirectory(id: 1, "/srv"), .execUser(id: 1, uid: 5, gid: 6),
        .execStart(id: 1), .execInput(id: 1, [0, 10, 255, 32]), .execInputEnd(id: 1), .execSignal(id: 1, 15),
        .execOutput(id: 1, stream: 2, Array("out\n".utf8)), .execOutput(id: 2, stream: 1, []), .execExit(id: 1, 130), .execError(id: 1, "exec x: No such file"), .terminal(rows: 0, columns: 0), .hookState("{\"id\":\"c 1\",\"status\":\"created\"}\n"), .start,
        .signal(15), .ready, .started, .exit(0), .exit(137), .error("exec /bin/nope: No such file"),
    ]

    @Test(arguments: messages)
    func roundTripsThroughOneLine(_ message: GuestMessage) {
        let line = message.line
        #expect(line.last == "\n")
        #expect(line.dropLast().allSatisfy { $0 != "\n" })
        #expect(GuestMessage(line: Substring(line.dropLast())) == message)
    }

    @Test func malformedLinesAreRejected() {
        for line in ["", "bogus 1", "exit x", "signal", "user 1 2", "rlimit 1 2", "caps 1 2 3 4", "caps 1 2 3 4 x",
                     "seccomp", "seccomp 0011", "seccomp 00112233445566zz", "seccomp 001",
                     "hook", "hook 5 /bin/x", "hook x /bin/x 0", "hook -1 /bin/x 0", "hook 5 /bin/x 2 only-one", "tty 24", "tty 24 x", "tty -1 80", "x-start", "x-start x", "x-start 1 2", "x-in 1 zz", "x-out 1 3 00",
                     "x-out 1 1", "x-exit 1", "x-tty 1 2", "x-bogus 1", "x-user 1 2",
                     "net eth0 0242ac1100ff 1500 10.0.0.2", "net eth0 0242ac1100 1500 10.0.0.2/24", "net eth0 0242ac1100ff x 10.0.0.2/24",
                     "net eth0 0242ac1100ff 1500 10.0.0/24", "net eth0 0242ac1100ff 1500 10.0.0.256/24", "net eth0 0242ac1100ff 1500 10.0.0.2/33",
                     "route 10.0.0.1", "route 10..0.1 eth0", "route 0.0.0.0/0 10.0.0.1", "route 0.0.0.0 10.0.0.1 eth0",
                     "route 0.0.0.0/33 10.0.0.1 eth0", "route 0.0.0.0/0 10.0.0 eth0",
                     "net6 eth0 000102030405060708090a0b0c0d0e0f", "net6 eth0 0001/64", "net6 eth0 000102030405060708090a0b0c0d0e0f/129",
                     "route6 00000000000000000000000000000000/0 fe80 eth0", "route6 00000000000000000000000000000000/0 fe800000000000000000000000000001"] {
            #expect(GuestMessage(line: Substring(line)) == nil)
        }
    }

    @Test func lineBufferSplitsAcrossReads() {
        var buffer = LineBuffer()
        #expect(buffer.append(Array("rea".utf8)).isEmpty)
        #expect(buffer.append(Array("dy\nexit 3\nsig".utf8)) == ["ready", "exit 3"])
        #expect(buffer.append(Array("nal 2\n".utf8)) == ["signal 2"])
    }

    /// Lines put back come first, ahead of a partial line still pending, and an empty
    /// append returns them (isorun-init hands the supervisor what came before `start`).
    @Test func lineBufferGivesBackWhatWasPutBack() {
        var buffer = LineBuffer()
        #expect(buffer.append(Array("start\ninput 61\nsig".utf8)) == ["start", "input 61"])
        buffer.putBack(["input 61"])
        #expect(buffer.append([UInt8]()) == ["input 61"])
        #expect(buffer.append(Array("nal 2\n".utf8)) == ["signal 2"])
    }
}
