import Testing
@testable import IsorunSpec

/// Fields of `linux` and `linux.resources` that were once read and dropped: each is now
/// applied or refused by name.
@Suite("rdma, intelRdt, cpu.burst, cpu.idle and checkBeforeUpdate")
struct ResourceFieldTests {
    @Test func rdmaLimitsDecodeIntoRdmaMaxLines() throws {
        let config = try decode(#"""
            {"ociVersion": "1.2.0", "linux": {"resources": {
              "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "rxe3": {"hcaObjects": 10000}},
              "memory": {"limit": 1048576, "checkBeforeUpdate": true}}}}
            """#)
        let rdma = try #require(config.linux?.resources?.rdma)
        #expect(rdma["mlx5_1"]?.line(for: "mlx5_1") == "mlx5_1 hca_handle=3 hca_object=10000")
        #expect(rdma["rxe3"]?.line(for: "rxe3") == "rxe3 hca_object=10000")
        #expect(config.linux?.resources?.memory?.checkBeforeUpdate == true)
    }

    @Test func problemsNameTheirField() throws {
        var config = minimalConfig()
        var resources = Resources(cpu: CPUResources(quota: 50_000, burst: 60_000, idle: 2))
        resources.rdma = ["mlx4_0": RdmaLimit()]
        config.linux = Linux(resources: resources)
        config.linux?.intelRdt = IntelRdt(closID: "guaranteed_group", schemata: "L3:0=7f0")
        let paths = config.validationErrors(file: "config.json").map(\.jsonPath)
        #expect(paths == ["linux.resources.rdma.mlx4_0", "linux.resources.cpu.burst", "linux.resources.cpu.idle", "linux.intelRdt"])
    }

    @Test func intelRdtIsReadWithItsTypes() throws {
        let error = try #require(specError {
            _ = try decode(#"{"ociVersion": "1.2.0", "linux": {"intelRdt": {"closID": 7}}}"#)
        })
        #expect(error.jsonPath == "linux.intelRdt.closID")
    }
}

/// What a rootless run without a delegated cgroup must refuse (see WorkloadCgroup).
struct LimitedFieldsTests {
    @Test func devicesAndEmptyObjectsLimitNothing() {
        #expect(Resources(devices: [DeviceCgroupRule(allow: false, access: "rwm")]).limitedFields.isEmpty)
        #expect(Resources(memory: MemoryResources(), cpu: CPUResources(), unified: [:]).limitedFields.isEmpty)
        #expect(Resources(memory: MemoryResources(limit: 1 << 20), pids: PidsResources(limit: 10)).limitedFields == ["memory", "pids"])
        #expect(Resources(cpu: CPUResources(shares: 512), unified: ["memory.high": "1G"]).limitedFields == ["cpu", "unified"])
    }
}
