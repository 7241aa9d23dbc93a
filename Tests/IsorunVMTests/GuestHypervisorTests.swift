import Glibc
import IsorunSys
import Testing
@testable import IsorunVM

struct GuestHypervisorTests {
    /// The bundle's choice wins, then isorun's own build in the cache (reached through
    /// `current`, as Guest/qemu/build.sh publishes it), and only then the system's QEMU.
    /// Only a build whose `features` say so gets `-sandbox`, and never the bundle's own.
    @Test func bundleThenOwnBuildThenSystem() throws {
        let cache = try scratchDirectory("qemu-cache")
        defer { try? Files.removeTree(cache) }

        // Whether the system's takes -sandbox is the system's to say (it is asked).
        let system = GuestArtifacts.hypervisor(configured: nil, cacheDirectory: cache)
        #expect(system.path == "qemu-system-x86_64" && system.isSystemFallback)

        try Files.makeDirectories("\(cache)/qemu/abc/bin")
        try Files.write("\(cache)/qemu/abc/bin/qemu-system-x86_64", "", create: true)
        try Files.symlink(target: "abc", at: "\(cache)/qemu/current")
        let own = GuestArtifacts.hypervisor(configured: nil, cacheDirectory: cache)
        #expect(own == GuestHypervisor(path: "\(cache)/qemu/current/bin/qemu-system-x86_64", buildDirectory: "\(cache)/qemu/current"),
                "a build before recipe 3: no -sandbox")
        try Files.write("\(cache)/qemu/abc/features", "sandbox\n", create: true)
        let sandboxed = GuestArtifacts.hypervisor(configured: nil, cacheDirectory: cache)
        #expect(sandboxed == GuestHypervisor(path: "\(cache)/qemu/current/bin/qemu-system-x86_64", hasSandbox: true,
                                            buildDirectory: "\(cache)/qemu/current"))

        let configured = GuestArtifacts.hypervisor(configured: "/opt/qemu/bin/qemu", cacheDirectory: cache)
        #expect(configured == GuestHypervisor(path: "/opt/qemu/bin/qemu", isConfigured: true))
    }
}
