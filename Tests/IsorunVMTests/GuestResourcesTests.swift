import IsorunCore
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

    /// runtime-spec 1.3's `vm.hwConfig` says the machine's size outright, past the host's CPUs.
    @Test func hardwareConfigTakesThePlaceOfTheResources() throws {
        let limits = Resources(memory: MemoryResources(limit: 64 << 20), cpu: CPUResources(quota: 100_000))
        let hardware = VMHardware(vcpus: 3, memory: (200 << 20) + 1)
        let sized = try GuestResources(resources: limits, hardware: hardware, initramfsBytes: 1 << 20, hostCPUs: 2, configFile: "c.json")
        #expect(sized.memoryMiB == 201 && sized.vCPUs == 3, "\(sized)")
        let cpusOnly = try GuestResources(resources: limits, hardware: VMHardware(vcpus: 2), initramfsBytes: 0, hostCPUs: 2, configFile: "c.json")
        #expect(cpusOnly.memoryMiB == 64 + GuestResources.kernelMarginMiB && cpusOnly.vCPUs == 2, "\(cpusOnly)")
        let none = try GuestResources(resources: limits, hardware: nil, initramfsBytes: 0, hostCPUs: 2, configFile: "c.json")
        #expect(none == GuestResources(resources: limits, initramfsBytes: 0, hostCPUs: 2))
    }

    @Test func aMachineTooSmallOrTooWideOrWithXenPassThroughIsRefused() {
        func refusal(_ hardware: VMHardware, initramfsBytes: Int = 0) -> String? {
            do {
                _ = try GuestResources(resources: nil, hardware: hardware, initramfsBytes: initramfsBytes, hostCPUs: 2, configFile: "c.json")
                return nil
            } catch { return error.message }
        }
        #expect(refusal(VMHardware(memory: 64 << 20), initramfsBytes: 20 << 20)?
            .hasPrefix("c.json: vm.hwConfig.memory: 67108864 bytes is less than the 92 MiB this guest needs") == true)
        #expect(refusal(VMHardware(memory: 92 << 20), initramfsBytes: 20 << 20) == nil)
        #expect(refusal(VMHardware(vcpus: 289)) == "c.json: vm.hwConfig.vcpus: 289 vCPUs; QEMU's microvm machine takes at most 288")
        #expect(refusal(VMHardware(vcpus: 288)) == nil)
        #expect(refusal(VMHardware(deviceTree: "/vm.dtb"))?.hasPrefix("c.json: vm.hwConfig.deviceTree: ") == true)
        #expect(refusal(VMHardware(irqs: [11]))?.hasPrefix("c.json: vm.hwConfig.irqs: ") == true)
        #expect(refusal(VMHardware(iomems: [VMIOMemory(firstMFN: 1, nrMFNs: 1)]))?.hasPrefix("c.json: vm.hwConfig.iomems: ") == true)
        #expect(refusal(VMHardware(dtdevs: []), initramfsBytes: 0) == nil, "an empty list asks for nothing")
    }
}
