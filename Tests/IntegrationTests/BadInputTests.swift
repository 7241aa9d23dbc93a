import Foundation
import Testing

/// isorun's own failures: status 125 and one line naming what is wrong.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct BadInputTests {
    func makeBundle(config: String, rootfs: Bool = true) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-bad-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if rootfs { try FileManager.default.createSymbolicLink(atPath: directory + "/rootfs", withDestinationPath: IsorunRunner.bundle("hello") + "/rootfs") }
        try config.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
        return directory
    }

    func expectOneLineFailure(_ result: IsorunRunner.Result, mentioning words: [String]) {
        #expect(result.status == 125)
        #expect(result.err.hasPrefix("isorun: "))
        #expect(result.err.filter { $0 == "\n" }.count == 1, "one line: \(result.err)")
        for word in words { #expect(result.err.contains(word), "\(result.err)") }
    }

    @Test func missingBundle() throws {
        let result = try IsorunRunner.run(["run", "/nonexistent/bundle"])
        expectOneLineFailure(result, mentioning: ["/nonexistent/bundle"])
    }

    /// A bare word is runc's `run ID` when the current directory is a bundle; otherwise it
    /// is most likely a mistyped bundle, and the error names it (the tests run in the
    /// package directory, which has no config.json).
    @Test func missingBundleGivenByName() throws {
        let result = try IsorunRunner.run(["--mode", "sandbox", "no-such.bundle"])
        expectOneLineFailure(result, mentioning: ["no-such.bundle", "no such bundle"])
    }

    /// A sandbox start begins its network namespace's helper early: before the Swift runtime
    /// (guessing from argv) or before reading the bundle. A command that fails first kills or
    /// reaps it, and leaves no process to whoever adopts orphans (a subreaper here).
    @Test(arguments: [["--mode", "sandbox", "--no-such-flag", "BUNDLE"], ["--mode", "sandbox", "/nonexistent/bundle"],
                      ["create", "--bundle", "/nonexistent/bundle", "no-such-container"], ["--mode", "sandbox", "BUNDLE", "--", "/bin/true"]])
    func aSandboxStartLeavesNoHelperBehind(_ arguments: [String]) throws {
        let subreaper = "\(IsorunRunner.repository)/Tests/Helpers/subreaper.py"
        let command = [IsorunRunner.binary] + arguments.map { $0 == "BUNDLE" ? IsorunRunner.bundle("hello") : $0 }
        let result = IsorunRunner.finish(try IsorunRunner.start(command, program: subreaper))
        let report = result.out.split(separator: "\n").last.map(String.init) ?? ""
        #expect(report.hasSuffix("orphans 0"), "\(report); \(result.err)")
        #expect(report.hasPrefix(arguments.last == "/bin/true" ? "status 0 " : "status 125 "), "\(report); \(result.err)")
    }

    @Test func malformedJSON() throws {
        let bundle = try makeBundle(config: "{ \"ociVersion\": \"1.2.0\", \"process\": { ")
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        expectOneLineFailure(try IsorunRunner.run(["run", bundle]), mentioning: ["config.json", "malformed JSON"])
    }

    @Test func wrongType() throws {
        let bundle = try makeBundle(config: #"{"ociVersion":"1.2.0","process":{"args":"sh","cwd":"/"},"root":{"path":"rootfs"}}"#)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        expectOneLineFailure(try IsorunRunner.run(["run", bundle]), mentioning: ["process.args"])
    }

    @Test func unknownNamespace() throws {
        let bundle = try makeBundle(config: #"{"ociVersion":"1.2.0","process":{"args":["true"],"cwd":"/"},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"},{"type":"bogus"}]}}"#)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        expectOneLineFailure(try IsorunRunner.run(["run", bundle]), mentioning: ["linux.namespaces[1].type", "bogus"])
    }

    @Test func missingRootfs() throws {
        let bundle = try makeBundle(config: #"{"ociVersion":"1.2.0","process":{"args":["true"],"cwd":"/"},"root":{"path":"rootfs"}}"#, rootfs: false)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        expectOneLineFailure(try IsorunRunner.run(["run", bundle]), mentioning: ["root.path", "rootfs"])
    }

    @Test func commandNotFoundInTheSandbox() throws {
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello", ["no-such-command"])
        expectOneLineFailure(result, mentioning: ["exec", "no-such-command", "ENOENT"])
    }

    @Test func unknownMode() throws {
        let result = try IsorunRunner.run(["run", "--mode", "teleport", IsorunRunner.bundle("hello")])
        expectOneLineFailure(result, mentioning: ["teleport"])
    }
}
