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

/// `exec` read by hand must mean what ArgumentParser's ExecCommand reads, or be left to it.
@Suite struct FastExecParserTests {
    @Test(arguments: [
        ["exec", "id1", "sh", "-c", "echo --tty"],
        ["exec", "--process", "/p.json", "--detach", "--pid-file", "/pid", "id1"],
        ["exec", "-p", "/p.json", "-d", "--console-socket", "/s", "-t", "id1"],
        ["exec", "-e", "A=1", "--env=B=2", "--cwd", "/tmp", "--cwd", "/", "-u", "1:2", "id1", "true"],
        ["exec", "-c", "CAP_KILL", "--cap", "CAP_CHOWN", "-g", "5", "--additional-gids", "6", "--no-new-privs", "id1", "id"],
        ["exec", "--preserve-fds", "2", "--root", "/r", "--debug", "id1", "--", "x"],
        ["exec", "id1", "-t", "sh"],
        ["exec", "id1"],
    ])
    func agreesWithArgumentParser(_ arguments: [String]) throws {
        let (fast, store) = try #require(FastExecParser.parse(arguments, globals: LeadingGlobals()))
        let command = try #require(try IsorunCommand.parseAsRoot(arguments) as? ExecCommand)
        #expect(fast == command.request)
        #expect(store.root.path == command.global.root)
    }

    @Test func takesLeadingGlobalsAsDefaults() throws {
        let globals = LeadingGlobals(root: "/tmp/lead", debug: false)
        let (_, store) = try #require(FastExecParser.parse(["exec", "id1", "true"], globals: globals))
        #expect(store.root.path == "/tmp/lead")
        let (_, own) = try #require(FastExecParser.parse(["exec", "--root", "/tmp/own", "id1", "true"], globals: globals))
        #expect(own.root.path == "/tmp/own")
    }

    @Test(arguments: [
        ["exec"], ["exec", "--help"], ["exec", "-it", "id1", "sh"], ["exec", "--tty=yes", "id1"], ["exec", "--unknown", "id1"],
        ["exec", "--preserve-fds", "x", "id1", "true"], ["exec", "-g", "-1", "id1", "true"], ["exec", "--cwd"],
        ["exec", "--", "id1", "true"], ["exec", "--process", "--detach", "id1"], ["start", "id1"],
    ])
    func leavesEverythingElseToArgumentParser(_ arguments: [String]) {
        #expect(FastExecParser.parse(arguments, globals: LeadingGlobals()) == nil)
    }
}
