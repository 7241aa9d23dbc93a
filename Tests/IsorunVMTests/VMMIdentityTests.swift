import Glibc
import IsorunSys
import Testing
@testable import IsorunVM

struct VMMIdentityTests {
    /// QEMU gets a uid of its own only for files every user may read: a file behind a
    /// private directory keeps it root (the bench's private image cache was one).
    @Test func ownUIDOnlyForFilesEveryUserMayRead() throws {
        let directory = try scratchDirectory("vmm")
        defer { try? Files.removeTree(directory) }
        let kernel = "\(directory)/vmlinux"
        try Files.write(kernel, bytes: [0], create: true, mode: 0o644)

        chmod(directory, 0o755)
        #expect(Files.isReadableByAnyone(kernel))
        let identity = try #require(VMMIdentity.forVM(owner: 1234, accelerator: .tcg, boots: [kernel],
                                                      configuredHypervisor: false))
        #expect(identity == VMMIdentity(uid: 2_000_001_234, gid: 2_000_001_234, groups: []))
        #expect(VMMIdentity.forVM(owner: 1234, accelerator: .tcg, boots: [kernel], configuredHypervisor: true) == nil)

        chmod(directory, 0o700)
        #expect(!Files.isReadableByAnyone(kernel))
        #expect(VMMIdentity.forVM(owner: 1234, accelerator: .tcg, boots: [kernel], configuredHypervisor: false) == nil)
        chmod(directory, 0o755)
        chmod(kernel, 0o640)
        #expect(!Files.isReadableByAnyone(kernel))
    }
}
