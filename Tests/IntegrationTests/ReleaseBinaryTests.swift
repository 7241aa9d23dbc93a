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
