import Glibc
import Testing
@testable import IsorunSandbox

struct MountOptionsTests {
    @Test func flagsDataAndPropagationAreSeparated() {
        let options = MountOptions(["nosuid", "noexec", "mode=755", "size=64k", "rslave", "ro"])
        #expect(options.flags == UInt(MS_NOSUID | MS_NOEXEC | MS_RDONLY))
        #expect(options.data == ["mode=755", "size=64k"])
        #expect(options.propagation == UInt(MS_SLAVE | MS_REC))
        #expect(!options.isBind)
    }

    @Test func laterOptionsWin() {
        let options = MountOptions(["ro", "rw", "nodev", "dev"])
        #expect(options.flags == 0)
    }

    @Test func bindAndRbind() {
        #expect(MountOptions(["bind"]).isBind && !MountOptions(["bind"]).isRecursive)
        #expect(MountOptions(["rbind"]).isBind && MountOptions(["rbind"]).isRecursive)
    }

    /// runtime-spec's recursive options become mount_setattr(2) bits, not fs data; an atime
    /// mode clears the whole atime field; the later of two opposites wins.
    @Test func recursiveOptionsAreMountAttributes() {
        let options = MountOptions(["rbind", "rro", "rnosuid", "rnoatime", "nosymfollow", "lazytime"])
        #expect(options.recursiveSet == MountAttribute.readOnly | MountAttribute.noSetuid | MountAttribute.noAtime)
        #expect(options.recursiveClear == MountAttribute.atimeField)
        #expect(options.flags == MountFlag.noSymlinkFollow | MountFlag.lazyTime && options.data.isEmpty)
        let undone = MountOptions(["rro", "rrw", "rstrictatime", "ratime"])
        #expect(undone.recursiveSet == 0 && undone.recursiveClear == MountAttribute.readOnly | MountAttribute.atimeField)
        #expect(SandboxFeatures.mountOptions.contains("rro") && SandboxFeatures.mountOptions.contains("nosymfollow"))
    }

    @Test func tmpcopyupIsAnOptionNotData() {
        #expect(MountOptions(["tmpcopyup", "size=1m"]).copyUp && MountOptions(["tmpcopyup", "size=1m"]).data == ["size=1m"])
        #expect(!MountOptions(["tmpcopyup", "notmpcopyup"]).copyUp)
    }

    @Test func rootfsPropagation() {
        #expect(MountOptions.rootfsPropagation(nil) == 0)
        #expect(MountOptions.rootfsPropagation("rshared") == UInt(MS_SHARED | MS_REC))
        #expect(MountOptions.rootfsPropagation("sideways") == nil)
    }
}
