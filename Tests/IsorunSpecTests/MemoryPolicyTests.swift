#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import IsorunSpec

@Suite("linux.memoryPolicy")
struct MemoryPolicyTests {
    private func problems(_ policy: MemoryPolicy) -> [SpecError] {
        var config = minimalConfig()
        config.linux = Linux()
        config.linux?.memoryPolicy = policy
        return config.validationErrors(file: "config.json")
    }

    @Test func aPolicyDecodesToTheKernelsNumbers() throws {
        let config = try decode(#"""
            {"ociVersion": "1.3.0", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"},
             "linux": {"memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "0-2,5", "flags": ["MPOL_F_RELATIVE_NODES"]}}}
            """#)
        let policy = try #require(config.linux?.memoryPolicy)
        #expect(policy == MemoryPolicy(mode: "MPOL_INTERLEAVE", nodes: "0-2,5", flags: ["MPOL_F_RELATIVE_NODES"]))
        #expect(policy.kernelMode == 16387)  // MPOL_INTERLEAVE | MPOL_F_RELATIVE_NODES: 3 | 1 << 14
        #expect(policy.nodeNumbers == [0, 1, 2, 5])
        #expect(config.validationErrors(file: "config.json").isEmpty)
        #expect(MemoryPolicy(mode: "MPOL_WEIGHTED_INTERLEAVE", nodes: "1", flags: ["MPOL_F_STATIC_NODES"]).kernelMode == 32774)  // 6 | 1 << 15
        #expect(MemoryPolicy(mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_NUMA_BALANCING"]).kernelMode == 8194)  // 2 | 1 << 13
    }

    @Test func aMissingModeNamesTheField() throws {
        let error = try #require(specError {
            _ = try decode(#"{"ociVersion": "1.3.0", "linux": {"memoryPolicy": {"nodes": "0"}}}"#)
        })
        #expect(error.jsonPath == "linux.memoryPolicy" && error.message.contains("mode"), "\(error)")
    }

    @Test func fieldsAreCheckedAgainstTheKernelsRules() {
        let cases: [(MemoryPolicy, String, String)] = [
            (MemoryPolicy(mode: "MPOL_NEAREST"), "linux.memoryPolicy.mode", "'MPOL_NEAREST'"),
            (MemoryPolicy(mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC"]), "linux.memoryPolicy.flags[0]", "'MPOL_F_STATIC'"),
            (MemoryPolicy(mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]),
             "linux.memoryPolicy.flags", "exclude each other"),
            (MemoryPolicy(mode: "MPOL_BIND", nodes: "1-0"), "linux.memoryPolicy.nodes", "'1-0' is not a node list"),
            (MemoryPolicy(mode: "MPOL_BIND", nodes: "1024"), "linux.memoryPolicy.nodes", "not a node list"),
            (MemoryPolicy(mode: "MPOL_BIND"), "linux.memoryPolicy.nodes", "MPOL_BIND needs at least one node"),
            (MemoryPolicy(mode: "MPOL_PREFERRED_MANY", nodes: ""), "linux.memoryPolicy.nodes", "needs at least one node"),
            (MemoryPolicy(mode: "MPOL_DEFAULT", nodes: "0"), "linux.memoryPolicy.nodes", "MPOL_DEFAULT takes no nodes"),
            (MemoryPolicy(mode: "MPOL_LOCAL", nodes: "3"), "linux.memoryPolicy.nodes", "MPOL_LOCAL takes no nodes"),
        ]
        for (policy, path, text) in cases {
            let found = problems(policy)
            #expect(found.count == 1 && found[0].jsonPath == path && found[0].message.contains(text), "\(policy): \(found)")
        }
        for valid in [MemoryPolicy(mode: "MPOL_DEFAULT"), MemoryPolicy(mode: "MPOL_LOCAL", nodes: ""),
                      MemoryPolicy(mode: "MPOL_PREFERRED"), MemoryPolicy(mode: "MPOL_PREFERRED", nodes: "2"),
                      MemoryPolicy(mode: "MPOL_BIND", nodes: "0-1023", flags: ["MPOL_F_NUMA_BALANCING"])] {
            #expect(problems(valid).isEmpty, "\(valid)")
        }
    }
}
