import Testing
@testable import IsorunSpec

@Suite("Validating a decoded config")
struct ValidationTests {
    /// The single problem `config` has, asserting there is exactly one.
    private func onlyProblem(_ config: RuntimeConfig, sourceLocation: SourceLocation = #_sourceLocation) throws -> SpecError {
        let problems = config.validationErrors(file: "config.json")
        #expect(problems.count == 1, "\(problems)", sourceLocation: sourceLocation)
        return try #require(problems.first, sourceLocation: sourceLocation)
    }

    @Test func minimalConfigIsValid() throws {
        try minimalConfig().validate(file: "config.json")
    }

    @Test func missingProcessHasNothingToRun() throws {
        var config = minimalConfig()
        config.process = nil
        let error = try onlyProblem(config)
        #expect(error.jsonPath == "process")
        #expect(error.message == "no process to run")
    }

    @Test func emptyArgsAreRejected() throws {
        var config = minimalConfig()
        config.process?.args = []
        #expect(try onlyProblem(config).jsonPath == "process.args")
        config.process?.args = nil
        #expect(try onlyProblem(config).jsonPath == "process.args")
    }

    @Test func relativeCwdIsRejected() throws {
        var config = minimalConfig()
        config.process?.cwd = "work"
        let error = try onlyProblem(config)
        #expect(error.jsonPath == "process.cwd")
        #expect(error.message.contains("absolute"))
        #expect(error.message.contains("'work'"))
    }

    @Test func softLimitAboveHardLimitIsRejected() throws {
        var config = minimalConfig()
        config.process?.rlimits = [
            Rlimit(type: "RLIMIT_CORE", soft: 0, hard: 0),
            Rlimit(type: "RLIMIT_NOFILE", soft: 4096, hard: 1024),
        ]
        let error = try onlyProblem(config)
        #expect(error.jsonPath == "process.rlimits[1]")
        #expect(error.message.contains("4096"))
        #expect(error.message.contains("1024"))
    }

    @Test func rlimitTypeMustBeAnRlimitName() throws {
        var config = minimalConfig()
        config.process?.rlimits = [Rlimit(type: "NOFILE", soft: 1, hard: 1)]
        let error = try onlyProblem(config)
        #expect(error.jsonPath == "process.rlimits[0].type")
        #expect(error.message.contains("RLIMIT_"))
    }

    @Test func swapBelowLimitIsRejected() throws {
        var config = minimalConfig()
        config.linux = Linux(resources: Resources(memory: MemoryResources(limit: 2_000, swap: 1_000)))
        let error = try onlyProblem(config)
        #expect(error.jsonPath == "linux.resources.memory.swap")
        #expect(error.message.contains("swap must be >= limit (swap is memory+swap)"))
    }

    @Test func unlimitedSwapIsAccepted() throws {
        var config = minimalConfig()
        config.linux = Linux(resources: Resources(memory: MemoryResources(limit: 2_000, swap: -1)))
        try config.validate(file: "config.json")
    }

    @Test func duplicateNamespaceTypesAreRejected() throws {
        var config = minimalConfig()
        config.linux = Linux(namespaces: [Namespace(type: .pid), Namespace(type: .mount), Namespace(type: .pid)])
        let error = try onlyProblem(config)
        #expect(error.jsonPath == "linux.namespaces[2].type")
        #expect(error.message.contains("linux.namespaces[0]"))
    }

    @Test func mountDestinationMustBeAbsolute() throws {
        var config = minimalConfig()
        config.mounts = [Mount(destination: "/proc", type: "proc"), Mount(destination: "tmp", type: "tmpfs")]
        #expect(try onlyProblem(config).jsonPath == "mounts[1].destination")
    }

    @Test func idMappingOfSizeZeroIsRejected() throws {
        var config = minimalConfig()
        config.linux = Linux(
            namespaces: [Namespace(type: .user)],
            uidMappings: [IDMapping(containerID: 0, hostID: 1000, size: 0)]
        )
        #expect(try onlyProblem(config).jsonPath == "linux.uidMappings[0].size")
    }

    @Test func seccompActionsAndOperatorsAreChecked() throws {
        var config = minimalConfig()
        config.linux = Linux(seccomp: Seccomp(
            defaultAction: "SCMP_ACT_DENY",
            syscalls: [
                SyscallRule(names: ["read"], action: "SCMP_ACT_ALLOW"),
                SyscallRule(names: ["kill"], action: "ALLOW", args: [SyscallArg(index: 0, value: 1, op: "==")]),
            ]
        ))
        let problems = config.validationErrors(file: "config.json")
        #expect(problems.map(\.jsonPath) == [
            "linux.seccomp.defaultAction",
            "linux.seccomp.syscalls[1].action",
            "linux.seccomp.syscalls[1].args[0].op",
        ])
        #expect(problems[0].message.contains("'SCMP_ACT_DENY'"))
        #expect(problems[0].message.contains("SCMP_ACT_KILL_PROCESS"))
        #expect(problems[2].message.contains("SCMP_CMP_MASKED_EQ"))
    }

    @Test func hostnameNeedsAUtsNamespace() throws {
        var config = minimalConfig()
        config.hostname = "box"
        config.linux = Linux(namespaces: [Namespace(type: .pid)])
        #expect(try onlyProblem(config).jsonPath == "hostname")
    }

    @Test func clockOffsetsNeedANewTimeNamespaceAndKnownClocks() throws {
        var config = minimalConfig()
        config.linux = Linux(namespaces: [Namespace(type: .time, path: "/proc/1/ns/time")],
                             timeOffsets: ["monotonic": TimeOffset(secs: 10)])
        let joined = try onlyProblem(config)
        #expect(joined.jsonPath == "linux.timeOffsets")
        #expect(joined.message.contains("new time namespace"))

        config.linux = Linux(namespaces: [Namespace(type: .time)],
                             timeOffsets: ["realtime": TimeOffset(secs: 1), "boottime": TimeOffset(nanosecs: 1_000_000_000)])
        let problems = config.validationErrors(file: "config.json")
        #expect(problems.map(\.jsonPath) == ["linux.timeOffsets.boottime.nanosecs", "linux.timeOffsets"])
        #expect(problems.last?.message == "unknown clock 'realtime'; expected monotonic or boottime")

        config.linux = Linux(namespaces: [Namespace(type: .time)],
                             timeOffsets: ["monotonic": TimeOffset(secs: -5, nanosecs: 999_999_999)])
        #expect(config.validationErrors(file: "config.json").isEmpty)
    }

    @Test func netDevicesNeedANetworkNamespaceValidNamesAndOneNameEach() throws {
        var config = minimalConfig()
        var linux = Linux(namespaces: [Namespace(type: .pid)])
        linux.netDevices = ["eth0": NetDevice(name: "net0")]
        config.linux = linux
        let shared = try onlyProblem(config)
        #expect(shared.jsonPath == "linux.netDevices")
        #expect(shared.message.contains("own network namespace"))

        linux.namespaces = [Namespace(type: .network, path: "/run/netns/a")]
        linux.netDevices = ["eth0": NetDevice(name: "net0"), "eth1": NetDevice(name: "net0"), "bad/name": NetDevice(),
                            "eth2": NetDevice(name: "sixteen-bytes-xx"), "eth3": NetDevice(name: "")]
        config.linux = linux
        let problems = config.validationErrors(file: "config.json")
        #expect(problems.map(\.jsonPath) == ["linux.netDevices", "linux.netDevices.eth1.name", "linux.netDevices.eth2.name"])
        #expect(problems[1].message.contains("also the container's name for 'eth0'"), "\(problems)")

        // An empty name keeps the host's; a joined namespace is the container's own too.
        linux.netDevices = ["eth0": NetDevice(name: ""), "eth1": NetDevice(name: "eth0x")]
        config.linux = linux
        #expect(config.validationErrors(file: "config.json").isEmpty)
    }

    @Test func aVMNeedsAVCPUAndMemory() throws {
        var config = minimalConfig()
        config.vm = VM(hwConfig: VMHardware(vcpus: 0, memory: 0))
        let problems = config.validationErrors(file: "config.json")
        #expect(problems.map(\.jsonPath) == ["vm.hwConfig.vcpus", "vm.hwConfig.memory"])
        config.vm = VM(hwConfig: VMHardware(vcpus: 1, memory: 1 << 20))
        #expect(config.validationErrors(file: "config.json").isEmpty)
    }

    @Test func personalityFlagsAreNotDefinedYet() throws {
        var config = minimalConfig()
        config.linux = Linux(personality: Personality(domain: "LINUX32", flags: ["ADDR_NO_RANDOMIZE"]))
        let error = try onlyProblem(config)
        #expect(error.jsonPath == "linux.personality.flags")
        #expect(error.message.contains("'ADDR_NO_RANDOMIZE'"))
    }

    @Test func validateThrowsTheFirstProblem() throws {
        var config = minimalConfig()
        config.process?.cwd = "relative"
        config.mounts = [Mount(destination: "also-relative")]
        #expect(config.validationErrors(file: "config.json").count == 2)
        let error = try #require(specError { try config.validate(file: "config.json") })
        #expect(error.jsonPath == "process.cwd")
    }
}
