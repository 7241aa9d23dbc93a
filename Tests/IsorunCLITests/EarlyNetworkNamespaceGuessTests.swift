import CIsorunShim
import Glibc
import Testing
@testable import IsorunCLI

/// The shim's guess from argv, made before the Swift runtime starts, of whether a command
/// will begin a network namespace's head start (early_network_namespace.c). A wrong "yes"
/// costs a helper that is killed at exit; a wrong "no", the head start's first 0.2 ms.
struct EarlyNetworkNamespaceGuessTests {
    static func guess(_ arguments: [String], program: String = "/usr/local/bin/isorun") -> Bool {
        var storage = ([program] + arguments).map { strdup($0) }
        defer { storage.forEach { free($0) } }
        return isorun_network_namespace_expected(Int32(storage.count), &storage) == 1
    }

    /// What the Swift side does with the same command line: `create` always begins a head
    /// start (a VM bundle discards it), a run begins one in sandbox mode.
    static func swiftBegins(_ arguments: [String]) -> Bool {
        guard let (globals, rest) = LeadingGlobals.split(arguments) else { return false }
        if rest.first == "create" { return true }
        return FastRunParser.parse(rest, globals: globals)?.mode == .sandbox
    }

    static let commandLines: [[String]] = [
        ["--mode", "sandbox", "/b", "--", "/bin/true"],
        ["/b"],
        ["run", "/b"],
        ["run", "--mode=sandbox", "--id", "web", "/b"],
        ["--root", "/tmp/r", "--log", "/tmp/log", "--log-format", "json", "create", "--bundle", "/b", "c1"],
        ["--root=/tmp/r", "--debug", "create", "--bundle", "/b", "--pid-file", "/tmp/p", "c1"],
        ["--mode", "bare", "/b"],
        ["--mode=vm", "/b"],
        ["run", "--mode", "bare", "/b", "--", "sh", "-c", "--mode sandbox"],
        ["/b", "--", "--mode", "bare"],
        ["--root", "/tmp/r", "state", "c1"],
        ["start", "c1"],
        ["delete", "--force", "c1"],
        ["exec", "c1", "/bin/true"],
        ["bench", "startup"],
        [],
        ["--help"],
        ["--root", "/tmp/r"],
    ]

    @Test(arguments: commandLines)
    func agreesWithTheSwiftSide(_ arguments: [String]) {
        #expect(Self.guess(arguments) == Self.swiftBegins(arguments))
    }

    /// The C list of commands that make no namespace must name every one Swift knows.
    @Test(arguments: FastRunParser.subcommandNames.filter { $0 != "create" })
    func noOtherCommandMakesOne(_ command: String) {
        #expect(!Self.guess([command, "x"]))
    }

    /// The C list of runc's leading flags must skip every one `LeadingGlobals` takes off.
    @Test(arguments: LeadingGlobals.valueFlags.map { [$0, "value"] } + LeadingGlobals.valueFlags.map { ["\($0)=value"] }
                     + LeadingGlobals.plainFlags.map { [$0] })
    func skipsEveryLeadingGlobal(_ global: [String]) {
        #expect(Self.guess(global + ["create", "--bundle", "/b", "c1"]))
        #expect(!Self.guess(global + ["state", "c1"]))
    }

    /// A caller that passes descriptors gets its helper from Swift, after `--preserve-fds`
    /// has checked them: the helper's socket would take the lowest free number.
    @Test func notWhenDescriptorsArePassedOn() {
        #expect(!Self.guess(["create", "--preserve-fds", "1", "--bundle", "/b", "c1"]))
        #expect(!Self.guess(["run", "--preserve-fds=2", "/b"]))
        #expect(Self.guess(["/b", "--", "sh", "--preserve-fds", "1"]), "the workload's arguments are its own")
    }

    /// The runtime under another name (isorun-oci execs it with its own argv[0]) counts;
    /// other programs linking the shim, such as this test runner, never start a helper.
    @Test func onlyIsorunItselfGuesses() {
        #expect(Self.guess(["create", "--bundle", "/b", "c1"], program: "isorun-oci"))
        #expect(!Self.guess(["/b"], program: "/tmp/isorunPackageTests.xctest"))
        #expect(!Self.guess(["/b"], program: "bwrap"))
    }
}
