import Glibc
import IsorunSys
import Testing
@testable import IsorunCore

struct RuntimeRootTests {
    /// A concurrent run's sweep must not remove a run that is being created (its record is
    /// still empty); CI once lost a VM run's state directory that way. Old, it is a leftover.
    @Test(arguments: [true, false])
    func aRunBeingCreatedIsNotSweptAwayButAnOldEmptyOneIs(withDirectory: Bool) throws {
        let path = try Self.temporaryRoot()
        defer { try? Files.removeTree(path) }
        let run = "\(path)/young"
        if withDirectory {
            #expect(mkdir(run, 0o700) == 0)
            try Files.write("\(run)/\(RunState.recordFile)", "", create: true)
        } else {
            try Files.write(run, "", create: true)
        }
        let root = RuntimeRoot(path: path)

        #expect(!root.reclaimIfAbandoned(run))
        #expect(Files.exists(run))

        var times = [timeval(tv_sec: time(nil) - 60, tv_usec: 0), timeval(tv_sec: time(nil) - 60, tv_usec: 0)]
        #expect(utimes(run, &times) == 0)
        #expect(root.reclaimIfAbandoned(run))
        #expect(!Files.exists(run))
    }

    /// A live run's id is taken whatever shape its state has; once the run is gone (its
    /// lock released without removing the state, as a SIGKILL leaves it) the id is free again.
    @Test(arguments: [(true, false), (false, true), (false, false), (true, true)])
    func anIdIsTakenUntilItsRunEnds(first: Bool, second: Bool) throws {
        let path = try Self.temporaryRoot()
        defer { try? Files.removeTree(path) }
        let root = RuntimeRoot(path: path)
        var live: RunState? = try root.createRun(id: "one", mode: .bare, withDirectory: first)
        #expect(Files.isDirectory("\(path)/one") == first)
        #expect(throws: IsorunError.self) { try root.createRun(id: "one", mode: .sandbox, withDirectory: second) }
        withExtendedLifetime(live) {}
        live = nil  // released, not removed: a killed supervisor's leftover
        #expect(Files.exists("\(path)/one"))
        // Another test's child forked at this moment holds a copy of the lock's descriptor
        // until it execs (or, for the network namespace's helper, exits): a few tries.
        var next = try? root.createRun(id: "one", mode: .sandbox, withDirectory: second)
        for _ in 0..<100 where next == nil {
            usleep(10_000)
            next = try? root.createRun(id: "one", mode: .sandbox, withDirectory: second)
        }
        let taken = try #require(next, "the id stayed taken after its run ended")
        #expect(Files.isDirectory("\(path)/one") == second)
        taken.remove()
        #expect(!Files.exists("\(path)/one"))
    }

    /// What a killed run must have recorded for the next one to undo, read back as written:
    /// a namespace path may hold spaces, an interface name cannot.
    @Test func aRecordKeepsItsNetworkMirrors() throws {
        let path = try Self.temporaryRoot()
        defer { try? Files.removeTree(path) }
        let run = try RuntimeRoot(path: path).createRun(id: "vm", mode: .vm, withDirectory: true)
        defer { run.remove() }
        try run.recordMirror(interface: "eth0", namespacePath: "/run/netns/cni-1")
        try run.recordMirror(interface: "net1", namespacePath: "/var/run/my netns/pod 2")
        let record = try RunRecord.load(from: "\(path)/vm/\(RunState.recordFile)")
        #expect(record.mirrors.map(\.interface) == ["eth0", "net1"])
        #expect(record.mirrors.map(\.namespacePath) == ["/run/netns/cni-1", "/var/run/my netns/pod 2"])
    }

    /// A container without a directory is its run's record plus files named `<id>+<file>`.
    /// The sweep leaves a created container alone after its creator has gone, skips the
    /// files beside a record and a VM `create`'s FIFO, and takes a killed `create`'s gate
    /// with its record.
    @Test func theSweepKnowsAContainersFilesBesideItsRecord() throws {
        let path = try Self.temporaryRoot()
        defer { try? Files.removeTree(path) }
        let root = RuntimeRoot(path: path)
        let store = ContainerStore(root: root)
        var made: RunState? = try root.createRun(id: "made", mode: .sandbox, withDirectory: false)
        try Files.write(store.path(of: ContainerStore.recordFile, id: "made", inDirectory: false), "{}", create: true)
        var killed: RunState? = try root.createRun(id: "killed", mode: .sandbox, withDirectory: false)
        let gate = store.path(of: ContainerStore.gateFile, id: "killed", inDirectory: false)
        #expect(gate == "\(path)/killed+exec.fifo")
        #expect(mkfifo(gate, 0o600) == 0)
        #expect(mkfifo("\(path)/.vm.ready", 0o600) == 0)
        withExtendedLifetime((made, killed)) {}
        // Both locks released, nothing removed: `create` has returned, or was killed.
        made = nil
        killed = nil

        root.sweepLeftovers()
        #expect(try Files.list(path).sorted() == [".vm.ready", "made", "made+container.json"])
    }

    static func temporaryRoot() throws -> String {
        var template = Array("/tmp/isorun-root-XXXXXX".utf8CString)
        return String(cString: try #require(mkdtemp(&template)))
    }
}

/// Containers made before their files moved beside the run's record (2026-12-03) keep a
/// directory `<root>/<id>/`: an isorun upgraded under a running containerd still finds,
/// starts and deletes them.
struct ContainerLayoutTests {
    @Test func aContainerInADirectoryIsStillFoundAndDeleted() throws {
        let path = try RuntimeRootTests.temporaryRoot()
        defer { try? Files.removeTree(path) }
        let store = ContainerStore(root: RuntimeRoot(path: path))
        // A process that has ended: the recorded start time names no live process.
        let old = ContainerRecord(id: "old", bundle: "/b", mode: "sandbox", pid: getpid(), pidStartTime: 1,
                                  created: ContainerRecord.now(), annotations: nil, cgroupDirectories: [], hooks: nil)
        #expect(mkdir("\(path)/old", 0o700) == 0)
        try Files.write("\(path)/old/\(ContainerStore.recordFile)", old.json, create: true)
        try Files.write("\(path)/old/\(RunState.recordFile)", "id=old\nmode=sandbox\n", create: true)
        #expect(mkfifo("\(path)/old/\(ContainerStore.gateFile)", 0o600) == 0)

        let loaded = try store.load("old")
        #expect(loaded.hasStateDirectory)
        #expect(store.gate(of: loaded) == "\(path)/old/exec.fifo")
        #expect(store.list().map(\.id) == ["old"])
        try store.delete(loaded, force: true)
        #expect(try Files.list(path).isEmpty)

        // A new sandbox container's record has no directory.
        #expect(!ContainerRecord(id: "new", bundle: "/b", mode: "sandbox", pid: 1, pidStartTime: 1, created: "",
                                 annotations: nil, cgroupDirectories: [], hooks: nil).hasStateDirectory)
    }
}

struct LentNetworkDeviceRecordTests {
    /// What a run records of a lent device is what the sweep after a crash reads back.
    @Test func aLentDeviceSurvivesTheRunRecord() throws {
        let device = LentNetworkDevice(hostName: "veth-a", containerName: "eth9", index: 7, addresses: [
            NetworkDeviceAddress(family: AF_INET, prefixLength: 24, scope: 0, local: [10, 1, 2, 3]),
            NetworkDeviceAddress(family: AF_INET, prefixLength: 32, scope: 0, local: [10, 1, 2, 4], peer: [10, 1, 2, 5]),
            NetworkDeviceAddress(family: AF_INET6, prefixLength: 64, scope: 0, local: [0xfd] + Array(repeating: 0, count: 14) + [1]),
        ])
        var record = RunRecord(id: "x", mode: "sandbox", cgroupDirectories: [], processes: [], hostMountRoot: nil, mirrors: [])
        record.networkNamespacePin = "/run/isorun/x+netns"
        record.lentDevices = [device, LentNetworkDevice(hostName: "eth1", containerName: "eth1", addresses: [])]
        let path = try Self.temporaryFile()
        defer { unlink(path) }
        try Files.write(path, record.serialized, create: true)
        let loaded = try RunRecord.load(from: path)
        #expect(loaded.networkNamespacePin == "/run/isorun/x+netns")
        #expect(loaded.lentDevices == record.lentDevices)
        #expect(loaded.networkDeviceLoan?.devices.count == 2)
    }

    @Test func aDamagedAddressIsNotReadAsOne() {
        #expect(NetworkDeviceAddress(recordToken: "2,24,0,0a01020") == nil)
        #expect(NetworkDeviceAddress(recordToken: "2,24,0,0a010203,zz") == nil)
        #expect(NetworkDeviceAddress(recordToken: "2,24,0,0a010203")?.local == [10, 1, 2, 3])
    }

    static func temporaryFile() throws -> String {
        var template = Array("/tmp/isorun-record-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        close(fd)
        return String(cString: template)
    }
}
