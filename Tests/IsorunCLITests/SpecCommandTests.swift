import Foundation
import IsorunSpec
import Testing
@testable import IsorunCLI

/// `isorun spec` writes configs isorun itself accepts; `--rootless` one an unprivileged user can run.
struct SpecCommandTests {
    @Test func theDefaultConfigIsValid() throws {
        let config = try RuntimeConfig.decode(Array(SpecCommand.defaultConfig.utf8), file: "config.json")
        try config.validate(file: "config.json")
        #expect(config.linux?.namespaces?.map(\.type) == [.pid, .network, .ipc, .uts, .mount, .cgroup])
    }

    @Test func theRootlessConfigMapsTheCallerAndAsksForNothingOnlyRootMayHave() throws {
        let text = SpecCommand.rootlessConfig(uid: 1000, gid: 1001)
        let config = try RuntimeConfig.decode(Array(text.utf8), file: "config.json")
        try config.validate(file: "config.json")
        #expect(config.linux?.namespaces?.map(\.type) == [.pid, .ipc, .uts, .mount, .user])
        #expect(config.linux?.uidMappings == [IDMapping(containerID: 0, hostID: 1000, size: 1)])
        #expect(config.linux?.gidMappings == [IDMapping(containerID: 0, hostID: 1001, size: 1)])
        let mounts = config.mounts ?? []
        #expect(!mounts.contains { $0.type == "cgroup" || $0.type == "sysfs" }, "\(mounts)")
        #expect(mounts.contains { $0.destination == "/sys" && $0.options?.contains("rbind") == true })
    }
}
