import Foundation
import Glibc
import IsorunSys
import Testing

/// `exec --tty`: the pseudo-terminal comes from the container's own devpts, as runc's
/// does, so a program in the container can name its terminal.
@Suite(.serialized)
struct ExecTerminalTests {
    @Test func anExecdTerminalIsNamedInTheContainer() throws {
        guard IsorunRunner.canRun else { return }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-exectty-\(UUID().uuidString)").path
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "300"])
        defer {
            try? FileManager.default.removeItem(atPath: bundle)
            try? FileManager.default.removeItem(atPath: root)
        }
        let id = IsorunRunner.uniqueID("exectty")
        let created = try IsorunRunner.runProgram("/bin/sh", ["-c", "\"$0\" --root \"$1\" create --bundle \"$2\" \"$3\" >/dev/null 2>&1 && \"$0\" --root \"$1\" start \"$3\"",
                                                               IsorunRunner.binary, root, bundle, id])
        try #require(created.status == 0, "\(created.err)")
        defer { _ = try? IsorunRunner.run(["--root", root, "delete", "--force", id]) }
        let helper = "\(IsorunRunner.repository)/Tests/Helpers/exec-console.py"
        let result = try IsorunRunner.runProgram("/usr/bin/python3", [helper, IsorunRunner.binary, root, id, "",
                                                                      "--", "sh", "-c", "tty; ls -1 /dev/pts; exit 5"])
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(whereSeparator: \.isNewline).map(String.init)
        // ttyname found it under the container's /dev/pts, where the pair was made.
        #expect(lines.first == "/dev/pts/0", "\(result.out)")
        #expect(lines.contains("0") && lines.contains("ptmx"), "\(result.out)")
        #expect(lines.last == "status: 5", "\(result.out)")
    }

    /// The multiplexer is looked up inside the directory given, symlinks included, and
    /// opened only if it is one: an image cannot point isorun at another device.
    @Test func onlyAMultiplexerBeneathTheRootIsOpened() throws {
        guard getuid() == 0 else { print("SKIP multiplexer lookup test: mknod needs root"); return }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-ptmx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/dev", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        func open(beneath directory: String = root) -> Int32? {
            do {
                _ = try PseudoTerminal(rows: 0, columns: 0, root: directory)
                return 0
            } catch {
                return error.errno
            }
        }
        // An absolute link resolves inside the root: no dev/null there, not the host's.
        try FileManager.default.createSymbolicLink(atPath: root + "/dev/ptmx", withDestinationPath: "/dev/null")
        #expect(open() == ENOENT)
        // A device that is not the multiplexer (/dev/zero's numbers) is refused unopened.
        #expect(mknod(root + "/dev/zero", S_IFCHR | 0o666, DeviceNumber.make(major: 1, minor: 5)) == 0)
        try FileManager.default.removeItem(atPath: root + "/dev/ptmx")
        try FileManager.default.createSymbolicLink(atPath: root + "/dev/ptmx", withDestinationPath: "zero")
        #expect(open() == ENXIO, "opened, then refused by the terminal ioctls (ENOTTY), or refused unopened (ENXIO)")
        // A multiplexer with its devpts beside it (the host's, here): a pair.
        #expect(open(beneath: "/") == 0)
    }
}
