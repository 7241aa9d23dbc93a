import Glibc
import IsorunSys
import Testing
@testable import IsorunVM

struct VMMJailTests {
    static let share = SpawnPlan.MountStep(kind: .bind, source: "/srv/data", target: "/run/isorun/c1/binds/0")

    static func jail(_ accelerator: Accelerator) -> VMMJail {
        VMMJail.plan(stateDirectory: "/run/isorun/c1", readOnly: ["/cache/kernel/vmlinux", "/cache/qemu/current"],
                     talk: ["/run/isorun/c1/vmm", "/run/isorun/c1/console.log"], shares: [share], accelerator: accelerator)
    }

    /// What QEMU reads is read-only, what it talks through is writable, the shares come
    /// last (their share entries sit in the state directory's place), and every bind lands
    /// at the path QEMU's command line names.
    @Test func eachPathIsWhereQEMULooksAndOnlyTheStateIsWritable() {
        let jail = Self.jail(.tcg)
        #expect(jail.root == "/run/isorun/c1/vmm-root")
        func step(_ target: String) -> SpawnPlan.MountStep? { jail.mounts.first { $0.target == target } }
        for target in ["/usr", "/cache/kernel/vmlinux", "/cache/qemu/current"] {
            #expect(step(target)?.source == target && ((step(target)?.remountFlags ?? 0) & UInt(MS_RDONLY)) != 0, "\(target)")
        }
        for target in ["/run/isorun/c1/vmm", "/run/isorun/c1/console.log"] {
            #expect(step(target)?.kind == .bind && (step(target)?.remountFlags ?? UInt(MS_RDONLY)) & UInt(MS_RDONLY) == 0, "\(target)")
        }
        #expect(jail.mounts.last == Self.share)
        #expect(step("/proc")?.data == "subset=pid,hidepid=invisible")
        #expect(!jail.mounts.contains { $0.target.hasPrefix("/etc") && $0.target != "/etc/ld.so.cache" })
        #expect(!jail.mounts.contains { ["/", "/run", "/var", "/home", "/root", "/tmp", "/sys"].contains($0.target) })
    }

    /// isorun's build and a QEMU the search path finds under /usr go in; one elsewhere
    /// (its libraries unknown), one not found at all, and the bundle's own do not.
    @Test func holdsOwnBuildsAndQEMUsUnderUsr() throws {
        #expect(VMMJail.holds(GuestHypervisor(path: "/cache/qemu/current/bin/qemu-system-x86_64", buildDirectory: "/cache/qemu/current"),
                              searchPath: ""))
        #expect(VMMJail.holds(GuestHypervisor(path: "sh", isSystemFallback: true), searchPath: "/nowhere:/usr/bin"))
        #expect(!VMMJail.holds(GuestHypervisor(path: "no-such-qemu", isSystemFallback: true), searchPath: "/usr/bin"))
        #expect(!VMMJail.holds(GuestHypervisor(path: "/usr/bin/sh", isConfigured: true), searchPath: ""), "a bundle's own, even under /usr")
        let directory = try scratchDirectory("jail")
        defer { try? Files.removeTree(directory) }
        try Files.write("\(directory)/qemu-system-x86_64", bytes: [], create: true, mode: 0o755)
        #expect(!VMMJail.holds(GuestHypervisor(path: "qemu-system-x86_64", isSystemFallback: true), searchPath: directory))
    }

    /// /dev/kvm only for a KVM guest (and only where the host has one).
    @Test func kvmOnlyUnderKVM() {
        #expect(!Self.jail(.tcg).mounts.contains { $0.target == "/dev/kvm" })
        #expect(Self.jail(.kvm).mounts.contains { $0.target == "/dev/kvm" } == Files.exists("/dev/kvm"))
    }
}
