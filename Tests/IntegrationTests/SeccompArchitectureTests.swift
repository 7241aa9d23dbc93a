import Foundation
import Glibc
import Testing

/// The default seccomp filter lists x32 only where the kernel runs x32 calls, and answers
/// a call of an architecture it does not list with ENOSYS: a container sees the same
/// answer to an x32 call as a process on the host, and is never killed for asking.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct SeccompArchitectureTests {
    /// Tests/Helpers/x32_getpid.c built into a fresh directory, or nil (with the reason
    /// printed) where this cannot be done.
    static func buildProbe() throws -> String? {
        #if arch(x86_64)
        guard let compiler = ["/usr/bin/musl-gcc", "/usr/local/bin/musl-gcc"].first(where: FileManager.default.isExecutableFile) else {
            print("SKIP x32 probe: no musl-gcc (apt-get install musl-tools; `make test` installs it)")
            return nil
        }
        var template = Array("/tmp/isorun-x32-probe-XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        chmod(directory, 0o755)
        let source = "\(IsorunRunner.repository)/Tests/Helpers/x32_getpid.c"
        let built = try IsorunRunner.runProgram(compiler, ["-static", "-O2", "-o", "\(directory)/x32-getpid", source])
        try #require(built.status == 0, "\(built.err)")
        return directory
        #else
        print("SKIP x32 probe: x32 is an x86_64 ABI")
        return nil
        #endif
    }

    @Test func anX32CallGetsTheHostKernelsAnswerInTheSandbox() throws {
        guard let directory = try Self.buildProbe() else { return }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let host = try IsorunRunner.runProgram("\(directory)/x32-getpid", [])
        try #require(host.status == 0 && (host.out == "pid\n" || host.out.hasPrefix("errno ")), "\(host.out)\(host.err)")
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["/probe/x32-getpid"]) { config in
            var mounts = config["mounts"] as? [[String: Any]] ?? []
            mounts.append(["destination": "/probe", "type": "bind", "source": directory, "options": ["rbind", "ro"]])
            config["mounts"] = mounts
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let sandboxed = try IsorunRunner.run(["run", "--mode", "sandbox", bundle])
        #expect(sandboxed.status == 0, "killed by the filter? \(sandboxed.status) \(sandboxed.err)")
        #expect(sandboxed.out == host.out)
    }
}
