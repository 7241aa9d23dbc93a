import Foundation
import Testing

/// The static release binary is linked differently from the debug build the other tests
/// run: the C shim, not the Swift runtime, answers `CommandLine`
/// (Sources/CIsorunShim/command_line.c). Every command depends on that answer.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct ReleaseBinaryTests {
    @Test func theStaticBinaryReadsItsCommandLineExactly() throws {
        guard let release = IsorunRunner.staticRelease(for: "static command line test") else { return }
        let words = ["a b", "", "ü", "--mode", "vm", String(repeating: "x", count: 300)]
        let result = try IsorunRunner.runProgram(
            release, ["--mode", "bare", IsorunRunner.bundle("hello"), "--", "/usr/bin/printf", "%s|"] + words)
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == words.map { $0 + "|" }.joined())
    }
}

extension VMModeTests {
    /// The static binary starts the Swift runtime with SWIFT_BACKTRACE set (so that the
    /// runtime does not search for a backtracer it cannot have: runtime_settings.c) and
    /// takes it back before its own code runs. QEMU is started with isorun's own
    /// environment, so it shows what every such child gets.
    @Test func theStaticBinarysRuntimeSettingReachesNoChild() throws {
        guard let release = IsorunRunner.staticRelease(for: "static runtime setting test") else { return }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "3"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("vmenviron")
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = nil
        environment["ISORUN_TEST_MARKER"] = id
        let started = try IsorunRunner.start(["run", "--mode", "vm", "--id", id, bundle], environment: environment, program: release)
        var qemu: [String] = []
        for _ in 0..<200 where qemu.isEmpty {
            qemu = VMSupport.qemuProcesses(mentioning: id)
            if qemu.isEmpty { usleep(50_000) }
        }
        let inherited = qemu.first.flatMap { FileManager.default.contents(atPath: "/proc/\($0)/environ") }
            .map { $0.split(separator: 0).map { String(decoding: $0, as: UTF8.self) } } ?? []
        let result = IsorunRunner.finish(started)
        #expect(result.status == 0, "\(result.err)")
        #expect(inherited.contains("ISORUN_TEST_MARKER=\(id)"), "QEMU's environment is not isorun's: \(inherited.prefix(5))")
        #expect(!inherited.contains { $0.hasPrefix("SWIFT_BACKTRACE=") })
    }
}
