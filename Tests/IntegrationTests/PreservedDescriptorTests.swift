import Foundation
import Testing

/// `--preserve-fds N` (runc's flag; podman passes systemd's socket-activation sockets with
/// it): descriptors 3 … 2+N reach the workload open, and no other inherited one does.
@Suite struct PreservedDescriptorTests {
    /// How the workload follows isorun's arguments.
    enum Workload {
        /// `-- sh -c SCRIPT`, for `run`.
        case afterDashes
        /// `sh -c SCRIPT`, for `exec ID`.
        case inline
        /// None: `create`, whose stdout and stderr the container inherits (files, not the
        /// pipes this would wait on until the container ends).
        case none
    }

    /// A shell that opens 3 and 4 on two files, then runs isorun with `arguments`; the
    /// workload prints what it reads from 3 and which of 3, 4 and 5 it holds.
    func runWithTwoOpen(_ arguments: String, workload: Workload = .afterDashes) throws -> IsorunRunner.Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-fds-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "from three\n".write(toFile: directory + "/three", atomically: true, encoding: .utf8)
        try "from four\n".write(toFile: directory + "/four", atomically: true, encoding: .utf8)
        let command = switch workload {
        case .afterDashes: "-- sh -c \"$2\""
        case .inline: "sh -c \"$2\""
        case .none: ">/dev/null 2>\"$1/err\""
        }
        let result = try IsorunRunner.runProgram("/bin/sh", [
            "-c", "\"$0\" \(arguments) \(command) 3<\"$1/three\" 4<\"$1/four\"", IsorunRunner.binary, directory,
            // Shell builtins only: a pipe or a directory listing would take descriptors of its own.
            "cat <&3; for fd in 3 4 5; do [ -e /proc/$$/fd/$fd ] && printf '%s ' $fd; done; echo"])
        guard workload == .none else { return result }
        let err = (try? Data(contentsOf: URL(fileURLWithPath: directory + "/err"))) ?? Data()
        return IsorunRunner.Result(status: result.status, stdout: result.stdout, stderr: err)
    }

    @Test(arguments: ["sandbox", "bare"])
    func thePreservedDescriptorsAndNoOthersReachTheWorkload(mode: String) throws {
        let bundle = IsorunRunner.bundle("hello")
        let one = try runWithTwoOpen("run --mode \(mode) --preserve-fds 1 \(bundle)")
        #expect(one.status == 0, "\(one.err)")
        #expect(one.out == "from three\n3 \n", "3 passed, 4 closed: \(one.out)")
        let none = try runWithTwoOpen("run --mode \(mode) \(bundle)")
        #expect(none.out == "\n" && none.err.contains("Bad file descriptor"), "nothing passed by default: \(none.out) \(none.err)")
    }

    @Test func aCreatedContainerKeepsThemAndExecPassesItsOwn() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-fds-root-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let id = IsorunRunner.uniqueID("fds")
        let created = try runWithTwoOpen("--root \(root) create --preserve-fds 2 --bundle \(IsorunRunner.bundle("hello")) \(id)",
                                         workload: .none)
        defer { _ = try? IsorunRunner.run(["--root", root, "delete", "--force", id]) }
        #expect(created.status == 0, "\(created.err)")
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(root)/\(id)+container.json")))
        let pid = try #require((record as? [String: Any])?["pid"] as? Int)
        let three = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/3")
        let four = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/4")
        #expect(three.contains("/three") && four.contains("/four"), "\(three) \(four)")

        // exec takes the flag too, into the same container.
        let exec = try runWithTwoOpen("--root \(root) exec --preserve-fds 1 \(id)", workload: .inline)
        #expect(exec.out == "from three\n3 \n", "\(exec.out) \(exec.err)")
    }

    @Test func aDescriptorThatIsNotOpenOrAVMContainerIs125() throws {
        let missing = try IsorunRunner.runProgram("/bin/sh", [
            "-c", "exec \"$0\" run --preserve-fds 2 \"$1\" -- true 3</dev/null", IsorunRunner.binary, IsorunRunner.bundle("hello")])
        #expect(missing.status == 125)
        #expect(missing.err == "isorun: --preserve-fds 2: descriptor 4 is not open\n", "\(missing.err)")
        let vm = try IsorunRunner.runProgram("/bin/sh", [
            "-c", "exec \"$0\" run --mode vm --preserve-fds 1 \"$1\" -- true 3</dev/null", IsorunRunner.binary, IsorunRunner.bundle("hello")])
        #expect(vm.status == 125)
        #expect(vm.err.contains("--preserve-fds: a VM container cannot take the host's descriptors"), "\(vm.err)")
    }
}
