#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import IsorunSpec

@Suite("process.scheduler, ioPriority and execCPUAffinity")
struct ProcessSchedulingTests {
    private func problems(_ process: (inout Process) -> Void) -> [SpecError] {
        var config = minimalConfig()
        process(&config.process!)
        return config.validationErrors(file: "config.json")
    }

    @Test func theSpecsExampleDecodesAndIsValid() throws {
        let config = try decode(#"""
            {"ociVersion": "1.2.0", "root": {"path": "rootfs"},
             "process": {"args": ["sh"], "cwd": "/",
                         "scheduler": {"policy": "SCHED_DEADLINE", "flags": ["SCHED_FLAG_RESET_ON_FORK"],
                                       "runtime": 10000000, "deadline": 30000000, "period": 30000000},
                         "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 4},
                         "execCPUAffinity": {"initial": "7", "final": "0-3,7"}}}
            """#)
        let process = try #require(config.process)
        #expect(process.scheduler == Scheduler(policy: "SCHED_DEADLINE", flags: ["SCHED_FLAG_RESET_ON_FORK"],
                                               runtime: 10_000_000, deadline: 30_000_000, period: 30_000_000))
        #expect(process.scheduler?.policyNumber == 6)
        #expect(process.scheduler?.flagMask == 1)
        #expect(process.ioPriority == IOPriority(ioClass: "IOPRIO_CLASS_IDLE", priority: 4))
        #expect(process.ioPriority?.kernelValue == 24580)  // 3 << 13 | 4
        #expect(process.execCPUAffinity == ExecCPUAffinity(initial: "7", final: "0-3,7"))
        #expect(config.validationErrors(file: "config.json").isEmpty)
        // Encoded under the spec's names (`class`, not the Swift property's).
        let encoded = String(decoding: try JSONEncoder().encode(process.ioPriority), as: UTF8.self)
        #expect(encoded.contains(#""class":"IOPRIO_CLASS_IDLE""#))
    }

    @Test func wrongTypesNameTheField() throws {
        let error = try #require(specError {
            _ = try decode(#"{"ociVersion": "1.2.0", "process": {"cwd": "/", "args": ["x"], "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": "high"}}}"#)
        })
        #expect(error.jsonPath == "process.ioPriority.priority")
        let missing = try #require(specError {
            _ = try decode(#"{"ociVersion": "1.2.0", "process": {"cwd": "/", "args": ["x"], "scheduler": {"nice": 3}}}"#)
        })
        #expect(missing.jsonPath == "process.scheduler" && missing.message.contains("policy"), "\(missing)")
    }

    @Test func schedulerFieldsAreCheckedAgainstTheKernelsRules() {
        let cases: [(Scheduler, String, String)] = [
            (Scheduler(policy: "SCHED_FAIR"), "process.scheduler.policy", "'SCHED_FAIR'"),
            (Scheduler(policy: "SCHED_ISO"), "process.scheduler.policy", "no such policy"),
            (Scheduler(policy: "SCHED_OTHER", nice: 20), "process.scheduler.nice", "between -20 and 19"),
            (Scheduler(policy: "SCHED_FIFO"), "process.scheduler.priority", "between 1 and 99, got 0"),
            (Scheduler(policy: "SCHED_RR", priority: 100), "process.scheduler.priority", "got 100"),
            (Scheduler(policy: "SCHED_BATCH", priority: 5), "process.scheduler.priority", "SCHED_BATCH needs 0"),
            (Scheduler(policy: "SCHED_IDLE", flags: ["SCHED_FLAG_RESET_ON_FORK", "RESET"]), "process.scheduler.flags[1]", "'RESET'"),
            (Scheduler(policy: "SCHED_DEADLINE", runtime: 100), "process.scheduler.runtime", "at least 1024"),
            (Scheduler(policy: "SCHED_DEADLINE", runtime: 2000, deadline: 1000), "process.scheduler.deadline", "at least the runtime"),
            (Scheduler(policy: "SCHED_DEADLINE", runtime: 2000, deadline: 3000, period: 2500), "process.scheduler.period", "0 or at least"),
        ]
        for (scheduler, path, text) in cases {
            let found = problems { $0.scheduler = scheduler }
            #expect(found.count == 1 && found[0].jsonPath == path && found[0].message.contains(text), "\(scheduler): \(found)")
        }
        for valid in [Scheduler(policy: "SCHED_OTHER", nice: -20), Scheduler(policy: "SCHED_FIFO", priority: 99),
                      Scheduler(policy: "SCHED_DEADLINE", runtime: 1024, deadline: 1024)] {
            #expect(problems { $0.scheduler = valid }.isEmpty, "\(valid)")
        }
    }

    @Test func ioPriorityNeedsAKnownClassAndALevelFromZeroToSeven() {
        let both = problems { $0.ioPriority = IOPriority(ioClass: "IOPRIO_CLASS_NONE", priority: 8) }
        #expect(both.map(\.jsonPath) == ["process.ioPriority.class", "process.ioPriority.priority"])
        #expect(IOPriority(ioClass: "IOPRIO_CLASS_NONE", priority: 0).kernelValue == nil)
        #expect(IOPriority(ioClass: "IOPRIO_CLASS_RT", priority: 0).kernelValue == 8192)  // 1 << 13
        #expect(IOPriority(ioClass: "IOPRIO_CLASS_BE", priority: 7).kernelValue == 16391)  // 2 << 13 | 7
    }

    @Test func cpuListsAreReadLikeTheKernelsCpulists() {
        #expect(ExecCPUAffinity.cpus("0-3,7") == [0, 1, 2, 3, 7])
        #expect(ExecCPUAffinity.cpus("7,1,1-2") == [1, 2, 7])
        #expect(ExecCPUAffinity.cpus("1023") == [1023])
        #expect(ExecCPUAffinity.cpus("") == [])
        for bad in ["1024", "3-1", "1,", "-1", "a", "1-2-3", " 1", "+1", "0x2"] {
            #expect(ExecCPUAffinity.cpus(bad) == nil, "\(bad)")
        }
        let found = problems { $0.execCPUAffinity = ExecCPUAffinity(initial: "0-", final: "") }
        #expect(found.map(\.jsonPath) == ["process.execCPUAffinity.initial"])
        #expect(found.first?.message.contains("'0-'") == true)
    }
}
