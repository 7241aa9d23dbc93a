import IsorunSpec
import Testing
@testable import IsorunVM

struct GuestResourcesTests {
    @Test func defaultsAreOneVCPUAndSmallRAM() {
        let resources = GuestResources(resources: nil, initramfsBytes: 3 << 20, hostCPUs: 2)
        #expect(resources.memoryMiB == 128 + 3 * 3)
        #expect(resources.vCPUs == 1)
    }

    @Test func memoryLimitBecomesGuestRAMPlusMargin() {
        let limits = Resources(memory: MemoryResources(limit: 64 << 20))
        let resources = GuestResources(resources: limits, initramfsBytes: (1 << 20) + 1, hostCPUs: 2)
        #expect(resources.memoryMiB == 64 + GuestResources.kernelMarginMiB + 3 * 2)
    }

    @Test func cpuQuotaAndCpusetBecomeVCPUsCappedByHost() {
        let quota = Resources(cpu: CPUResources(quota: 150_000, period: 100_000))
        #expect(GuestResources(resources: quota, initramfsBytes: 0, hostCPUs: 4).vCPUs == 2)
        let cpuset = Resources(cpu: CPUResources(cpus: "0-2,5"))
        #expect(GuestResources(resources: cpuset, initramfsBytes: 0, hostCPUs: 8).vCPUs == 4)
        #expect(GuestResources(resources: cpuset, initramfsBytes: 0, hostCPUs: 2).vCPUs == 2)
        #expect(GuestResources.countCPUs("3-1") == nil)
    }
}
