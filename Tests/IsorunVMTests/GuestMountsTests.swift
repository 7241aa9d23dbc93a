import Foundation
import Glibc
import IsorunCore
import IsorunGuestProtocol
@testable import IsorunSandbox
import IsorunSpec
import Testing
@testable import IsorunVM

/// How a bundle's mounts become guest messages and QEMU's binds (no VM needed).
struct GuestMountsTests {
    /// A bundle whose config has `mounts`, and a scratch state directory; removed by `body`'s caller.
    func withBundle(mounts: String, _ body: (IsorunSpec.Bundle, String, String) throws -> Void) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-guestmounts-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["bundle/rootfs", "state", "volume"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
        }
        try "x\n".write(toFile: "\(root)/hosts", atomically: false, encoding: .utf8)
        let config = """
            {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["true"], "cwd": "/"},
             "mounts": \(mounts.replacingOccurrences(of: "ROOT", with: root))}
            """
        try config.write(toFile: "\(root)/bundle/config.json", atomically: false, encoding: .utf8)
        try body(try IsorunSpec.Bundle.load(directory: "\(root)/bundle"), "\(root)/state", root)
    }

    /// A fresh tmpfs in the guest gets recursive options as plain ones and none that only
    /// clear a flag or set propagation (the guest's mount starts so); its data stays.
    @Test func aTmpfsIsToldPlainOptions() {
        #expect(MountPlan.freshMountOptions(["rro", "rw", "rslave", "nosymfollow", "size=1m", "rnosuid", "defaults"])
                == ["ro", "nosymfollow", "size=1m", "nosuid"])
        #expect(GuestMountFlags.flag(named: "nosymfollow") == 256 && GuestMountFlags.flag(named: "size=1m") == nil)
    }

    /// isorun-init's table spells the flags as numbers (its libc's headers may lack the
    /// newer names); each must be the host's flag of the same name, and every flag the host
    /// sets on a mount but `remount` must be one the guest knows.
    @Test func theGuestsFlagTableIsTheHosts() throws {
        let host = Dictionary(uniqueKeysWithValues: MountOptions.setting.map { ($0.key, $0.value) })
        for entry in GuestMountFlags.byName {
            #expect(host[entry.name] == entry.flag, "\(entry.name)")
        }
        let guestNames = Set(GuestMountFlags.byName.map(\.name))
        #expect(Set(host.keys).subtracting(guestNames) == ["remount"])
    }

    @Test func tmpfsAndBindsKeepTheBundlesOrderAndEachBindGetsAnEntry() throws {
        try withBundle(mounts: """
            [{"destination": "/proc", "type": "proc", "source": "proc"},
             {"destination": "/data", "type": "bind", "source": "ROOT/volume", "options": ["rbind", "ro", "nosuid", "rprivate"]},
             {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]},
             {"destination": "/etc/hosts", "source": "ROOT/hosts", "options": ["bind"]}]
            """) { bundle, state, root in
            let mounts = try GuestMounts(bundle: bundle, stateDirectory: state)
            #expect(mounts.messages == [
                .bind(name: "0", destination: "/data", flags: UInt(MS_RDONLY | MS_NOSUID), isFile: false),
                .tmpfs(destination: "/tmp", options: "mode=1777"),
                .bind(name: "1", destination: "/etc/hosts", flags: 0, isFile: true),
            ])
            #expect(mounts.shareDirectory == "\(state)/binds")
            // QEMU's side: the same sources onto the entries, recursion kept, only `ro` enforced there.
            #expect(mounts.hostBinds.map(\.source) == ["\(root)/volume", "\(root)/hosts"])
            #expect(mounts.hostBinds.map(\.target) == ["\(state)/binds/0", "\(state)/binds/1"])
            #expect(mounts.hostBinds.map(\.flags) == [UInt(MS_REC), 0])
            #expect(mounts.hostBinds.map(\.remountFlags) == [UInt(MS_RDONLY), 0])
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: "\(state)/binds/0", isDirectory: &isDirectory) && isDirectory.boolValue)
            #expect(FileManager.default.fileExists(atPath: "\(state)/binds/1", isDirectory: &isDirectory) && !isDirectory.boolValue)
        }
    }

    @Test func withoutBindsNothingIsShared() throws {
        try withBundle(mounts: #"[{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}]"#) { bundle, state, _ in
            let mounts = try GuestMounts(bundle: bundle, stateDirectory: state)
            #expect(mounts.shareDirectory == nil)
            #expect(mounts.hostBinds.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: "\(state)/binds"))
        }
    }

    /// A device node over 9p would be the guest kernel's device, not the host's.
    @Test func aDeviceNodeIsNotShared() throws {
        try withBundle(mounts: #"[{"destination": "/dev/null2", "type": "bind", "source": "/dev/null", "options": ["bind"]}]"#) { bundle, state, _ in
            let mounts = try GuestMounts(bundle: bundle, stateDirectory: state)
            #expect(mounts.messages.isEmpty)
            #expect(mounts.shareDirectory == nil)
        }
    }

    @Test func anIdmappedBindIsRefusedWithItsIndex() throws {
        try withBundle(mounts: #"[{"destination": "/data", "type": "bind", "source": "ROOT/volume", "options": ["bind", "idmap"]}]"#) { bundle, state, _ in
            #expect { try GuestMounts(bundle: bundle, stateDirectory: state) } throws: { error in
                "\(error)".contains("mounts[0]: idmapped mounts are not supported in VM mode")
            }
        }
    }
}
