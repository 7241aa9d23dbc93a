import Glibc
import IsorunSpec
import IsorunSys
import Testing
@testable import IsorunSandbox

/// The cache in a directory of the test's own; nothing here loads a filter into the kernel.
struct SeccompFilterCacheTests {
    private func withDirectory(_ body: (String) throws -> Void) throws {
        var template = Array("/tmp/isorun-seccomp-cache-XXXXXX".utf8CString)
        let directory = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { try? Files.removeTree(directory) }
        try body(directory + "/seccomp")
    }

    private func entries(_ directory: String) -> [String] { (try? Files.list(directory)) ?? [] }

    @Test func aStoredFilterIsReusedAndEqualsAFreshCompile() throws {
        try withDirectory { directory in
            let profile = DefaultSeccompProfile.profile(capabilities: nil)
            let fresh = try SeccompCompiler.compile(profile, configFile: "c.json")
            let first = try SeccompFilterCache.filter(for: profile, configFile: "c.json", directory: directory)
            #expect(entries(directory).count == 1)
            let inputs = try #require(SeccompFilterCache.inputs(describing: SeccompFilterCache.description(of: profile)))
            let path = "\(directory)/\(entries(directory)[0])"
            let loaded = try #require(SeccompFilterCache.load(path, inputs: inputs))
            #expect(loaded.instructions == fresh.instructions)
            #expect(first.instructions == fresh.instructions)
            #expect(try SeccompFilterCache.filter(for: profile, configFile: "c.json", directory: directory).instructions == fresh.instructions)
        }
    }

    @Test func anEntryIsUsedOnlyForExactlyItsProfile() throws {
        try withDirectory { directory in
            let strict = DefaultSeccompProfile.profile(capabilities: nil)
            let admin = DefaultSeccompProfile.profile(capabilities: Capabilities(bounding: ["CAP_SYS_ADMIN"]))
            _ = try SeccompFilterCache.filter(for: strict, configFile: "c.json", directory: directory)
            let path = "\(directory)/\(entries(directory)[0])"
            // Another profile's inputs never match this entry, even if it were found under their name.
            #expect(SeccompFilterCache.load(path, inputs: try #require(SeccompFilterCache.inputs(describing: SeccompFilterCache.description(of: admin)))) == nil)
            let adminFilter = try SeccompFilterCache.filter(for: admin, configFile: "c.json", directory: directory)
            #expect(entries(directory).count == 2)
            #expect(adminFilter.instructions == (try SeccompCompiler.compile(admin, configFile: "c.json")).instructions)
        }
    }

    @Test func aDamagedEntryIsNotUsed() throws {
        try withDirectory { directory in
            let profile = Seccomp(defaultAction: "SCMP_ACT_ERRNO", syscalls: [SyscallRule(names: ["getpid"], action: "SCMP_ACT_ALLOW")])
            let inputs = try #require(SeccompFilterCache.inputs(describing: SeccompFilterCache.description(of: profile)))
            _ = try SeccompFilterCache.filter(for: profile, configFile: "c.json", directory: directory)
            let path = "\(directory)/\(entries(directory)[0])"
            let whole = try Files.read(path)
            try Files.write(path, bytes: Array(whole.dropLast(3)), create: true)  // not whole instructions
            #expect(SeccompFilterCache.load(path, inputs: inputs) == nil)
            try Files.write(path, bytes: Array(inputs.utf8) + [0], create: true)  // no program at all
            #expect(SeccompFilterCache.load(path, inputs: inputs) == nil)
            // A damaged entry means compiling again, and the entry is written anew.
            _ = try SeccompFilterCache.filter(for: profile, configFile: "c.json", directory: directory)
            #expect(SeccompFilterCache.load(path, inputs: inputs) != nil)
        }
    }

    @Test func aFullDirectoryIsEmptiedBeforeTheNextEntry() throws {
        try withDirectory { directory in
            try Files.makeDirectories(directory, mode: 0o700)
            for index in 0..<SeccompFilterCache.maximumEntries {
                try Files.write("\(directory)/old-\(index).bpf", "stale", create: true)
            }
            let profile = Seccomp(defaultAction: "SCMP_ACT_ALLOW")
            _ = try SeccompFilterCache.filter(for: profile, configFile: "c.json", directory: directory)
            #expect(entries(directory).count == 1)
            #expect(!entries(directory).contains { $0.hasPrefix("old-") })
        }
    }

    @Test func theDefaultProfileIsNamedByExactlyTheCapabilitiesThatChangeIt() throws {
        let sets: [[String]] = [[], ["CAP_KILL"], ["CAP_SYS_ADMIN"], ["CAP_SYS_PTRACE"], ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"],
                                ["CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_KILL"], ["CAP_SYS_TIME", "CAP_SYSLOG"]]
        for first in sets {
            for second in sets {
                let a = Capabilities(bounding: first), b = Capabilities(bounding: second)
                let sameName = DefaultSeccompProfile.liftingCapabilities(a) == DefaultSeccompProfile.liftingCapabilities(b)
                let sameProfile = SeccompFilterCache.description(of: DefaultSeccompProfile.profile(capabilities: a))
                    == SeccompFilterCache.description(of: DefaultSeccompProfile.profile(capabilities: b))
                #expect(sameName == sameProfile, "\(first) vs \(second)")
            }
        }
    }

    @Test func theDefaultProfileIsCachedUnderItsNameAndMadeOnlyOnAMiss() throws {
        try withDirectory { directory in
            var made = 0
            let name = "default profile, lifted by []"
            let first = try SeccompFilterCache.filter(describedAs: name, configFile: "c.json", directory: directory) {
                made += 1
                return DefaultSeccompProfile.profile(capabilities: nil)
            }
            let second = try SeccompFilterCache.filter(describedAs: name, configFile: "c.json", directory: directory) {
                made += 1
                return DefaultSeccompProfile.profile(capabilities: nil)
            }
            #expect(made == 1)
            #expect(first.instructions == second.instructions)
            #expect(first.instructions == (try SeccompCompiler.compile(DefaultSeccompProfile.profile(capabilities: nil), configFile: "c.json")).instructions)
        }
    }
}
