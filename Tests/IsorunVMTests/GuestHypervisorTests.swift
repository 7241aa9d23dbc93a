import Glibc
import IsorunSys
import Testing
@testable import IsorunVM

struct GuestHypervisorTests {
    /// The bundle's choice wins, then isorun's own build in the cache (reached through
    /// `current`, as Guest/qemu/build.sh publishes it), and only then the system's QEMU.
    @Test func bundleThenOwnBuildThenSystem() throws {
        var template = Array("/tmp/isorun-qemu-cache-XXXXXX".utf8CString)
        let cache = String(cString: try #require(mkdtemp(&template)))
        defer { try? Files.removeTree(cache) }

        let system = GuestArtifacts.hypervisor(configured: nil, cacheDirectory: cache)
        #expect(system == GuestHypervisor(path: "qemu-system-x86_64", isSystemFallback: true))

        try Files.makeDirectories("\(cache)/qemu/abc/bin")
        try Files.write("\(cache)/qemu/abc/bin/qemu-system-x86_64", "", create: true)
        try Files.symlink(target: "abc", at: "\(cache)/qemu/current")
        let own = GuestArtifacts.hypervisor(configured: nil, cacheDirectory: cache)
        #expect(own == GuestHypervisor(path: "\(cache)/qemu/current/bin/qemu-system-x86_64"))

        let configured = GuestArtifacts.hypervisor(configured: "/opt/qemu/bin/qemu", cacheDirectory: cache)
        #expect(configured == GuestHypervisor(path: "/opt/qemu/bin/qemu"))
    }
}
