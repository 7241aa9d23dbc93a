import ArgumentParser
import Testing
@testable import IsorunCLI

/// The hand-written fast path must agree with ArgumentParser wherever it answers.
struct FastRunParserTests {
    static let accepted: [[String]] = [
        ["b"],
        ["run", "b"],
        ["--mode", "bare", "b"],
        ["--mode=vm", "b"],
        ["run", "--mode", "sandbox", "--id", "web1", "--root", "/tmp/r", "b"],
        ["--debug", "b", "--", "sh", "-c", "echo --mode x"],
        ["b", "--mode", "bare"],
        ["b", "--", "--help"],
        ["--id=x", "b", "--"],
    ]

    @Test(arguments: accepted)
    func agreesWithArgumentParser(_ arguments: [String]) throws {
        let fast = try #require(FastRunParser.parse(arguments))
        let parsed = try IsorunCommand.parseAsRoot(arguments)
        let command = try #require(parsed as? RunCommand)
        #expect(fast == command.options)
    }

    static let declined: [[String]] = [
        [], ["--help"], ["-h"], ["run", "--help"], ["--version"], ["--mode", "teleport", "b"],
        ["b", "c"], ["--mode"], ["--unknown", "b"], ["--", "x"], ["--id", "--debug", "b"],
    ]

    @Test(arguments: declined)
    func leavesEverythingElseToArgumentParser(_ arguments: [String]) {
        #expect(FastRunParser.parse(arguments) == nil)
    }
}
