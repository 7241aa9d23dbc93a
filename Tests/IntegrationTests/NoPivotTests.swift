import Foundation
import Testing

/// `--no-pivot` (runc's flag): the rootfs is moved onto / and entered with chroot, for a
/// root that pivot_root refuses, such as an initramfs; every other mount is detached first.
@Suite struct NoPivotTests {
    @Test func aSandboxEntersItsRootfsWithoutPivotRootAndLeavesNothing() throws {
        let id = IsorunRunner.uniqueID("nopivot")
        let result = try IsorunRunner.run(["run", "--no-pivot", "--id", id, IsorunRunner.bundle("hello"), "--", "sh", "-c",
                                           "cat /etc/hostname 2>/dev/null; hostname; ls /proc/1/ns >/dev/null && echo proc; exit 4"])
        #expect(result.status == 4, "\(result.err)")
        #expect(result.out.hasSuffix("hello\nproc\n"), "\(result.out)")
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        #expect(!mounts.contains(IsorunRunner.bundle("hello") + "/rootfs"), "no mount left on the host")
    }
}

extension VMModeTests {
    /// Inside a guest whose root is its initramfs, pivot_root fails (EINVAL) and
    /// `--no-pivot` is how a sandbox starts there.
    @Test func anInitramfsRootTakesASandboxWithNoPivot() throws {
        guard let release = IsorunRunner.staticRelease(for: "initramfs --no-pivot test"),
              let environment = try VMSupport.stockKernelEnvironment(for: "initramfs --no-pivot test") else { return }
        let script = #"""
            mount -t cgroup2 cgroup2 /sys/fs/cgroup || { echo "mount: failed"; exit 90; }
            echo "root: $(awk '$5 == "/" { print $9 }' /proc/self/mountinfo)"
            /isorun --mode sandbox /inner -- true 2>/tmp/err
            echo "pivot status: $?"
            echo "pivot error: $(cat /tmp/err)"
            /isorun run --no-pivot /inner -- sh -c 'echo "inside: $(hostname) $(cat /sys/fs/cgroup/pids.max)"'
            echo "no-pivot status: $?"
            echo "mounts left: $(grep -c /inner/rootfs /proc/self/mountinfo)"
            """#
        let bundle = try Self.guestSandboxBundle(isorun: release, script: script)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = IsorunRunner.finish(try IsorunRunner.start(["run", "--mode", "vm", "--vm-root", "initramfs", bundle],
                                                                environment: environment))
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n").map(String.init)
        let report = "guest printed:\n\(result.out)\(result.err)"
        #expect(lines.contains("root: rootfs") || lines.contains("root: ramfs") || lines.contains("root: tmpfs"), "\(report)")
        #expect(lines.contains("pivot status: 125"), "\(report)")
        #expect(lines.contains { $0.hasPrefix("pivot error: ") && $0.contains("pivot_root") }, "\(report)")
        #expect(lines.contains("inside: hello 32"), "\(report)")
        #expect(lines.contains("no-pivot status: 0"), "\(report)")
        #expect(lines.contains("mounts left: 0"), "\(report)")
    }
}
