import Foundation
import Glibc
import Testing

/// The default seccomp filter lists x32 only where the kernel runs x32 calls, and answers
/// a call of an architecture it does not list with ENOSYS: a container sees the same
/// answer to an x32 call as a process on the host, and is never killed for asking.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct SeccompArchitectureTests {
    /// Tests/Helpers/`source`.c built as `name` into a fresh directory, or nil (with the
    /// reason printed) where this cannot be done.
    static func buildProbe(_ source: String = "x32_getpid", as name: String = "x32-getpid") throws -> String? {
        #if arch(x86_64)
        guard let compiler = ["/usr/bin/musl-gcc", "/usr/local/bin/musl-gcc"].first(where: FileManager.default.isExecutableFile) else {
            print("SKIP \(name) probe: no musl-gcc (apt-get install musl-tools; `make test` installs it)")
            return nil
        }
        var template = Array("/tmp/isorun-probe-XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        chmod(directory, 0o755)
        let path = "\(IsorunRunner.repository)/Tests/Helpers/\(source).c"
        let built = try IsorunRunner.runProgram(compiler, ["-static", "-O2", "-o", "\(directory)/\(name)", path])
        try #require(built.status == 0, "\(built.err)")
        return directory
        #else
        print("SKIP \(name) probe: built for x86_64 only")
        return nil
        #endif
    }

    /// Runs the probe `name` in `directory` in a sandbox of hello's (bound at /probe).
    static func runInSandbox(_ name: String, from directory: String) throws -> IsorunRunner.Result {
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["/probe/\(name)"]) { config in
            var mounts = config["mounts"] as? [[String: Any]] ?? []
            mounts.append(["destination": "/probe", "type": "bind", "source": directory, "options": ["rbind", "ro"]])
            config["mounts"] = mounts
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        return try IsorunRunner.run(["run", "--mode", "sandbox", bundle])
    }

    /// io_uring, whose calls have given the kernel a long list of holes, is refused by the
    /// default filter as by Docker's since 2023: EPERM, what a kernel with io_uring turned
    /// off (`kernel.io_uring_disabled`) answers, on which programs fall back to plain calls.
    @Test func ioUringIsRefusedByTheDefaultFilter() throws {
        guard let directory = try Self.buildProbe("io_uring_setup", as: "io-uring-setup") else { return }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let host = try IsorunRunner.runProgram("\(directory)/io-uring-setup", [])
        guard host.out == "ring\n" else {
            print("SKIP ioUringIsRefusedByTheDefaultFilter: this host's kernel makes no io_uring (\(host.out))")
            return
        }
        let sandboxed = try Self.runInSandbox("io-uring-setup", from: directory)
        #expect(sandboxed.status == 0, "\(sandboxed.err)")
        #expect(sandboxed.out == "errno \(EPERM)\n", "\(sandboxed.out)")
    }

    @Test func anX32CallGetsTheHostKernelsAnswerInTheSandbox() throws {
        guard let directory = try Self.buildProbe() else { return }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let host = try IsorunRunner.runProgram("\(directory)/x32-getpid", [])
        try #require(host.status == 0 && (host.out == "pid\n" || host.out.hasPrefix("errno ")), "\(host.out)\(host.err)")
        let sandboxed = try Self.runInSandbox("x32-getpid", from: directory)
        #expect(sandboxed.status == 0, "killed by the filter? \(sandboxed.status) \(sandboxed.err)")
        #expect(sandboxed.out == host.out)
    }
}
