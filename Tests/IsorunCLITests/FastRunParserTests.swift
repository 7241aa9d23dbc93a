import ArgumentParser
import Testing
@testable import IsorunCLI

/// The hand-written fast path must agree with ArgumentParser wherever it answers.
struct FastRunParserTests {
    /// Bundles are paths here: a bare word that is not a bundle directory is runc's `run ID`.
    static let accepted: [[String]] = [
        ["/b"],
        ["run", "./b"],
        ["--mode", "bare", "/b"],
        ["--mode=vm", "/b"],
        ["run", "--mode", "sandbox", "--id", "web1", "--root", "/tmp/r", "/b"],
        ["--debug", "/b", "--", "sh", "-c", "echo --mode x"],
        ["/b", "--mode", "bare"],
        ["/b", "--", "--help"],
        ["--id=x", "/b", "--"],
    ]

    @Test(arguments: accepted)
    func agreesWithArgumentParser(_ arguments: [String]) throws {
        let fast = try #require(FastRunParser.parse(arguments))
        let parsed = try IsorunCommand.parseAsRoot(arguments)
        let command = try #require(parsed as? RunCommand)
        #expect(fast == command.options)
    }

    /// `isorun --root R --debug run BUNDLE`: the leading flags are defaults that the
    /// command's own flags override.
    @Test func takesLeadingGlobalsAsDefaults() throws {
        let globals = LeadingGlobals(root: "/tmp/lead", debug: true)
        let fast = try #require(FastRunParser.parse(["run", "--mode", "bare", "/b"], globals: globals))
        #expect(fast == RunOptions(mode: .bare, root: "/tmp/lead", debug: true, bundle: "/b"))
        let overridden = try #require(FastRunParser.parse(["run", "--root", "/tmp/own", "/b"], globals: globals))
        #expect(overridden.root == "/tmp/own")
    }

    static let declined: [[String]] = [
        [], ["--help"], ["-h"], ["run", "--help"], ["--version"], ["--mode", "teleport", "b"],
        ["/b", "c"], ["--mode"], ["--unknown", "/b"], ["--", "x"], ["--id", "--debug", "/b"],
        ["run", "container-id-not-a-bundle"], ["container-id-not-a-bundle", "--", "sh"],
    ]

    @Test(arguments: declined)
    func leavesEverythingElseToArgumentParser(_ arguments: [String]) {
        #expect(FastRunParser.parse(arguments) == nil)
    }
}

/// The lifecycle fast path takes exactly what containerd's shim sends and leaves every
/// other spelling to ArgumentParser (nil).
@Suite struct FastLifecycleParserTests {
    @Test(arguments: [
        ["create", "--bundle", "/b", "--pid-file", "/p", "id1"], ["create", "-b", "/b", "id1"],
        ["create", "--bundle=/b", "--console-socket", "/s", "id1"], ["start", "id1"], ["state", "id1"],
        ["kill", "id1"], ["kill", "--all", "id1", "9"], ["kill", "id1", "KILL"], ["delete", "--force", "id1"],
        ["delete", "-f", "id1"], ["delete", "--root", "/r", "id1"], ["start", "--debug", "id1"],
    ])
    func takesTheShimsForms(_ arguments: [String]) {
        #expect(FastLifecycleParser.parse(arguments, globals: LeadingGlobals()) != nil)
    }

    @Test(arguments: [
        ["create", "--help"], ["start"], ["start", "a", "b"], ["kill", "id1", "9", "extra"], ["kill", "id1", "-9"],
        ["delete", "--force=yes", "id1"], ["create", "--bundle"], ["state", "--format", "json", "id1"], ["list"],
        ["run", "b"],
    ])
    func leavesTheRestToArgumentParser(_ arguments: [String]) {
        #expect(FastLifecycleParser.parse(arguments, globals: LeadingGlobals()) == nil)
    }
}
