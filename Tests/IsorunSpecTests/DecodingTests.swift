#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import IsorunSpec

@Suite("Decoding config.json")
struct DecodingTests {
    @Test func decodesAFullRealisticConfig() throws {
        let config = try decode(fullConfigJSON)
        #expect(config.ociVersion == "1.2.0")

        let process = try #require(config.process)
        #expect(process.args == ["sh", "-c", "echo hello"])
        #expect(process.cwd == "/home/app")
        #expect(process.user == User(uid: 1000, gid: 1000, umask: 18, additionalGids: [5, 6]))
        #expect(process.consoleSize == ConsoleSize(height: 24, width: 80))
        #expect(process.capabilities?.bounding?.contains("CAP_KILL") == true)
        #expect(process.capabilities?.ambient == nil)
        #expect(process.rlimits == [Rlimit(type: "RLIMIT_NOFILE", soft: 1024, hard: 1024)])
        #expect(process.oomScoreAdj == -500)
        #expect(process.ioPriority == IOPriority(ioClass: "IOPRIO_CLASS_IDLE", priority: 0), "a missing level reads as 0")

        #expect(config.root == Root(path: "rootfs", readonly: true))
        #expect(config.mounts?.count == 6)
        #expect(config.mounts?[5].uidMappings?.first?.hostID == 100_000)
        #expect(config.hooks?.createRuntime?.first?.timeout == 5)
        #expect(config.annotations?["org.opencontainers.image.title"] == "demo")

        let linux = try #require(config.linux)
        #expect(linux.namespaces?.map(\.type) == [.pid, .network, .ipc, .uts, .mount, .cgroup, .user])
        #expect(linux.namespace(.network)?.path == "/var/run/netns/demo")
        #expect(config.hasNamespace(.user))
        #expect(!config.hasNamespace(.time))
        #expect(linux.resources?.memory?.limit == 536_870_912)
        #expect(linux.resources?.cpu?.cpus == "0-1")
        #expect(linux.resources?.pids == PidsResources(limit: 128))
        #expect(linux.resources?.unified?["memory.high"] == "400M")
        #expect(linux.seccomp?.syscalls?[1].args?.first?.op == "SCMP_CMP_EQ")
        #expect(linux.devices?.first?.fileMode == 438)
        #expect(linux.personality?.domain == "LINUX")
        #expect(config.vm?.image?.format == "raw")
        #expect(config.vm?.hypervisor == nil)
        #expect(config.vm?.hwConfig == VMHardware(vcpus: 2, memory: 268_435_456))

        #expect(config.validationErrors(file: "config.json").isEmpty)
    }

    @Test func encodingAndDecodingAgainGivesTheSameConfig() throws {
        let config = try decode(fullConfigJSON)
        let encoded = try JSONEncoder().encode(config)
        #expect(try RuntimeConfig.decode([UInt8](encoded), file: "re-encoded.json") == config)
    }

    @Test func netDevicesAreAMapOfHostNamesToContainerNames() throws {
        let config = try decode(#"{"ociVersion": "1.3.0", "linux": {"netDevices": {"eth0": {"name": "net0"}, "eth1": {}}}}"#)
        #expect(config.linux?.netDevices == ["eth0": NetDevice(name: "net0"), "eth1": NetDevice()])
        #expect(config.linux?.netDevices?["eth1"]?.containerName(hostName: "eth1") == "eth1")
        let error = try #require(specError { _ = try decode(#"{"ociVersion": "1.3.0", "linux": {"netDevices": {"eth0": {"name": 7}}}}"#) })
        #expect(error.jsonPath == "linux.netDevices.eth0.name")
    }

    @Test func vmHardwareIsReadWithItsPassThroughFields() throws {
        let config = try decode(#"""
        {"ociVersion": "1.3.0", "vm": {"kernel": {"path": "/k"}, "hwConfig": {"deviceTree": "/vm.dtb", "vcpus": 2,
         "memory": 4194304, "dtdevs": ["/soc/dev1"], "iomems": [{"firstMFN": 12288, "nrMFNs": 1},
         {"firstGFN": 12544, "firstMFN": 33024, "nrMFNs": 2}], "irqs": [11, 22]}}}
        """#)
        #expect(config.vm?.hwConfig == VMHardware(deviceTree: "/vm.dtb", vcpus: 2, memory: 4_194_304, dtdevs: ["/soc/dev1"],
                                                   iomems: [VMIOMemory(firstMFN: 12288, nrMFNs: 1),
                                                            VMIOMemory(firstGFN: 12544, firstMFN: 33024, nrMFNs: 2)],
                                                   irqs: [11, 22]))
        let negative = try #require(specError { _ = try decode(#"{"ociVersion": "1.3.0", "vm": {"hwConfig": {"irqs": [-1]}}}"#) })
        #expect(negative.jsonPath == "vm.hwConfig.irqs[0]")
        let incomplete = try #require(specError { _ = try decode(#"{"ociVersion": "1.3.0", "vm": {"hwConfig": {"iomems": [{"firstMFN": 1}]}}}"#) })
        #expect(incomplete.jsonPath == "vm.hwConfig.iomems[0]")
    }

    @Test func clockOffsetsAreReadPerClock() throws {
        let config = try decode(#"{"ociVersion": "1.2.0", "linux": {"namespaces": [{"type": "time"}], "timeOffsets": {"monotonic": {"secs": -3, "nanosecs": 5}, "boottime": {"secs": 604800}}}}"#)
        #expect(config.linux?.timeOffsets == ["monotonic": TimeOffset(secs: -3, nanosecs: 5), "boottime": TimeOffset(secs: 604800)])
        let error = try #require(specError { _ = try decode(#"{"ociVersion": "1.2.0", "linux": {"timeOffsets": {"boottime": {"nanosecs": -1}}}}"#) })
        #expect(error.jsonPath == "linux.timeOffsets.boottime.nanosecs")
    }

    @Test func missingUserMeansRoot() throws {
        let config = try decode(#"{"ociVersion": "1.2.0", "process": {"args": ["sh"], "cwd": "/"}}"#)
        #expect(config.process?.user == nil)
        #expect(config.process?.resolvedUser == User(uid: 0, gid: 0))
    }

    @Test func malformedJSONNamesTheFileAndThePosition() throws {
        let error = try #require(specError { _ = try decode("{\n  \"ociVersion\": \"1.2.0\",\n  \"process\" {}\n}") })
        #expect(error.file == "config.json")
        #expect(error.jsonPath == nil)
        #expect(error.message == "malformed JSON at line 3, column 13: expected ':' after field name 'process' but found character '{'")
        #expect(error.description.hasPrefix("config.json: malformed JSON"))
    }

    @Test(arguments: [
        ("", "the file is empty"),
        ("{\"a\": [1, 2,]}", "trailing comma before ']'"),
        ("{\"a\": 1,}", "trailing comma before '}'"),
        ("{\"a\": tru}", "did you mean true?"),
        ("{\"a\": \"x}", "unterminated string"),
        ("{\"a\": 01}", "leading zeros"),
        ("{\"a\": 1} x", "after the end of the top-level value"),
        ("{\"a\": [1, 2", "unexpected end of file inside the array that starts at line 1, column 7"),
        ("// comment\n{}", "comments are not allowed"),
        ("{'a': 1}", "expected a field name in double quotes"),
    ])
    func syntaxErrorsSayWhatIsWrong(json: String, expected: String) throws {
        let error = try #require(specError { _ = try decode(json) })
        #expect(error.message.hasPrefix("malformed JSON at line "))
        #expect(error.message.contains(expected), "\(error)")
    }

    @Test func wrongTypeNamesThePathAndBothTypes() throws {
        let json = #"{"ociVersion": "1.2.0", "process": {"args": "sh", "cwd": "/"}}"#
        let error = try #require(specError { _ = try decode(json) })
        #expect(error.jsonPath == "process.args")
        #expect(error.message == "expected an array of strings but found the string 'sh'")
        #expect(error.description == "config.json: process.args: expected an array of strings but found the string 'sh'")
    }

    @Test func wrongElementTypeNamesTheIndex() throws {
        let json = #"{"ociVersion": "1.2.0", "mounts": [{"destination": "/a"}, {"destination": 7}]}"#
        let error = try #require(specError { _ = try decode(json) })
        #expect(error.jsonPath == "mounts[1].destination")
        #expect(error.message == "expected a string but found number 7")
    }

    @Test func outOfRangeNumberNamesThePathAndRange() throws {
        let json = #"{"ociVersion": "1.2.0", "process": {"cwd": "/", "user": {"uid": -1, "gid": 0}}}"#
        let error = try #require(specError { _ = try decode(json) })
        #expect(error.jsonPath == "process.user.uid")
        #expect(error.message == "expected a non-negative integer no larger than 4294967295 but found number -1")
    }

    @Test func mapKeysThatAreNotIdentifiersAreQuoted() throws {
        let json = #"{"ociVersion": "1.2.0", "linux": {"sysctl": {"net.ipv4.ip_forward": 1}}}"#
        let error = try #require(specError { _ = try decode(json) })
        #expect(error.jsonPath == #"linux.sysctl["net.ipv4.ip_forward"]"#)
        #expect(error.message == "expected a string but found number 1")
    }

    @Test func unknownNamespaceTypeNamesThePathTheValueAndTheValidTypes() throws {
        let json = #"{"ociVersion": "1.2.0", "linux": {"namespaces": [{"type": "pid"}, {"type": "uts"}, {"type": "netwrk"}]}}"#
        let error = try #require(specError { _ = try decode(json) })
        #expect(error.jsonPath == "linux.namespaces[2].type")
        #expect(error.message.contains("'netwrk'"))
        for type in NamespaceType.allCases {
            #expect(error.message.contains(type.rawValue))
        }
    }

    @Test func missingRequiredFieldNamesTheParentAndTheField() throws {
        let json = #"{"ociVersion": "1.2.0", "process": {"args": ["sh"]}}"#
        let error = try #require(specError { _ = try decode(json) })
        #expect(error.jsonPath == "process")
        #expect(error.message == "missing required field 'cwd'")
    }

    @Test func missingOciVersionIsReportedForTheWholeFile() throws {
        let error = try #require(specError { _ = try decode("{}") })
        #expect(error.jsonPath == nil)
        #expect(error.description == "config.json: missing required field 'ociVersion'")
    }

    @Test func nullForARequiredFieldSaysNull() throws {
        let json = #"{"ociVersion": "1.2.0", "root": {"path": null}}"#
        let error = try #require(specError { _ = try decode(json) })
        #expect(error.jsonPath == "root.path")
        #expect(error.message == "expected a string but found null")
    }

    @Test func topLevelMustBeAnObject() throws {
        let error = try #require(specError { _ = try decode("[1, 2]") })
        #expect(error.jsonPath == nil)
        #expect(error.message == "expected an object at the top level but found an array")
    }

    @Test func descriptionIsAlwaysOneLine() throws {
        let inputs = [
            "{\n\n\"ociVersion\": \"1.2.0\",\n\"process\": {\"args\": \"multi\\nline\", \"cwd\": \"/\"}}",
            "{\n  \"ociVersion\": \"1\n\"}",
            #"{"ociVersion": "1.2.0", "linux": {"namespaces": [{"type": "a\nb"}]}}"#,
        ]
        for input in inputs {
            let error = try #require(specError { _ = try decode(input) })
            #expect(!error.description.contains("\n"), "\(error)")
        }
        let direct = SpecError(file: "f", jsonPath: "", message: "first\nsecond\r\n third")
        #expect(direct.description == "f: first second third")
    }
}
