import Foundation
import Glibc
import Testing

/// The bundle's bind mounts in a VM: shared over virtio-9p, bound in place by isorun-init.
extension VMModeTests {
    /// A read-write directory, a read-only one and a file, bound into the same places the
    /// sandbox binds them: the workload sees the same things in both modes, its writes
    /// reach the host, `ro` holds, and nothing of the share stays on the host.
    @Test(arguments: ["initramfs", "disk"])
    func bindMountsReachTheHostAsInTheSandbox(vmRoot: String) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-binds-\(UUID().uuidString)").path
        let (writable, readOnly, file) = (scratch + "/rw", scratch + "/ro", scratch + "/group")
        for directory in [writable, readOnly] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        chmod(scratch, 0o755)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try "from the host\n".write(toFile: writable + "/in", atomically: false, encoding: .utf8)
        try "read-only\n".write(toFile: readOnly + "/r", atomically: false, encoding: .utf8)
        try "binds:x:4242:\n".write(toFile: file, atomically: false, encoding: .utf8)
        // Destinations that exist in hello's rootfs, so the sandbox adds nothing to it.
        let script = """
            cat /root/in; echo "from $1" > /root/out-$1; mkdir /root/dir-$1
            cat /run/r; (echo x > /run/w) 2>/dev/null && echo ro-broken || echo ro-held
            cat /etc/group; grep -c isorun.binds /proc/mounts || true
            """
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script, "sh"]) { config in
            var mounts = config["mounts"] as? [[String: Any]] ?? []
            mounts += [
                ["destination": "/root", "type": "bind", "source": writable, "options": ["rbind", "rw"]],
                ["destination": "/run", "type": "bind", "source": readOnly, "options": ["bind", "ro", "nosuid"]],
                ["destination": "/etc/group", "type": "bind", "source": file, "options": ["bind", "ro"]],
            ]
            config["mounts"] = mounts
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }

        let expected = "from the host\nread-only\nro-held\nbinds:x:4242:\n"
        let sandbox = try IsorunRunner.run(["run", "--mode", "sandbox", bundle, "--", "sh", "-c", script, "sh", "sandbox"])
        #expect(sandbox.status == 0, "\(sandbox.err)")
        #expect(sandbox.out == expected + "0\n", "\(sandbox.out)")

        let id = IsorunRunner.uniqueID("vmbinds")
        let vm = try IsorunRunner.run(["run", "--mode", "vm", "--vm-root", vmRoot, "--id", id, bundle, "--",
                                       "sh", "-c", script, "sh", "vm"])
        #expect(vm.status == 0, "\(vm.err)")
        // In the guest the share itself is gone once everything is bound: only the binds
        // (three 9p mounts) remain.
        #expect(vm.out == expected + "3\n", "\(vm.out)")
        #expect(try String(contentsOfFile: writable + "/out-vm", encoding: .utf8) == "from vm\n")
        #expect(FileManager.default.fileExists(atPath: writable + "/dir-vm"))
        #expect(!FileManager.default.fileExists(atPath: readOnly + "/w"))
        let owner = try FileManager.default.attributesOfItem(atPath: writable + "/out-vm")[.ownerAccountID] as? Int
        #expect(owner == 0, "the guest's root wrote it, and the share keeps owners as they are")

        #expect(VMSupport.qemuProcesses(mentioning: id).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/run/isorun/\(id)"))
        let mountTable = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mountTable.contains(scratch), "no bind of the sources is left on the host")
    }

    /// QEMU serves the share as root with only the file server's capabilities (see
    /// VMLauncher.confine and VMMIdentity), and that is enough for the guest's root to keep
    /// the rights the bundle grants it, as in the sandbox: to read another user's private
    /// file, and to make a file and give it away.
    @Test func aSharedDirectoryKeepsTheRightsTheBundleGrantsAsInTheSandbox() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-binds-\(UUID().uuidString)").path
        let owned = scratch + "/user"
        try FileManager.default.createDirectory(atPath: owned, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try "private\n".write(toFile: owned + "/secret", atomically: false, encoding: .utf8)
        chmod(scratch, 0o755)
        chmod(owned, 0o700)
        chmod(owned + "/secret", 0o600)
        for path in [owned, owned + "/secret"] { chown(path, 1000, 1000) }
        let script = "cat /root/secret && touch /root/made-$1 && chown 1000:1000 /root/made-$1 && echo given"
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script, "sh"]) { config in
            config["mounts"] = (config["mounts"] as? [[String: Any]] ?? [])
                + [["destination": "/root", "type": "bind", "source": owned, "options": ["rbind", "rw"]]]
            let granted = ["CAP_DAC_OVERRIDE", "CAP_CHOWN", "CAP_FOWNER"]
            IsorunRunner.edit(&config, at: ["process"]) { process in
                process["capabilities"] = ["bounding": granted, "effective": granted, "permitted": granted]
            }
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        for mode in ["sandbox", "vm"] {
            let result = try IsorunRunner.run(["run", "--mode", mode, bundle, "--", "sh", "-c", script, "sh", mode])
            #expect(result.status == 0 && result.out == "private\ngiven\n", "\(mode): \(result.out) \(result.err)")
            let owner = try? FileManager.default.attributesOfItem(atPath: "\(owned)/made-\(mode)")[.ownerAccountID] as? Int
            #expect(owner == 1000, "\(mode): the file was given to uid 1000 on the host")
        }
    }

    /// Debian's cloud kernel (the fallback) has no 9p: a bundle with binds is refused before
    /// a VM boots, rather than failing in the guest.
    /// runtime-spec's `rro`: read-only for the mounts below the bind's source too, in both
    /// modes. Plain `ro` leaves a mount below it writable in the sandbox (the kernel's bind
    /// remount is not recursive), which is what `rro` is for. A tmpfs takes the recursive
    /// and newer options too (in the guest as well, which is told them as plain ones).
    @Test func recursiveReadOnlyHoldsForTheMountsBelowABind() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-rro-\(UUID().uuidString)").path
        let below = scratch + "/below"
        try FileManager.default.createDirectory(atPath: below, withIntermediateDirectories: true)
        chmod(scratch, 0o755)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try #require(Glibc.mount("tmpfs", below, "tmpfs", 0, "size=1m") == 0, "mount a tmpfs below the source")
        defer { umount2(below, Int32(MNT_DETACH)) }
        try "below\n".write(toFile: below + "/f", atomically: false, encoding: .utf8)
        let script = "cat /mnt/below/f; (echo x > /mnt/below/w) 2>/dev/null && echo below-writable || echo below-read-only; "
            + "(echo x > /mnt/w) 2>/dev/null && echo top-writable || echo top-read-only"
            + "; (echo x > /srv/w) 2>/dev/null && echo tmpfs-writable || echo tmpfs-read-only"
        func bundle(_ options: [String]) throws -> String {
            try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script]) { config in
                config["mounts"] = (config["mounts"] as? [[String: Any]] ?? []) + [
                    ["destination": "/mnt", "type": "bind", "source": scratch, "options": options],
                    ["destination": "/srv", "type": "tmpfs", "source": "tmpfs",
                     "options": options.contains("rro") ? ["rro", "rw", "rslave", "nosymfollow", "size=1m"] : ["size=1m"]],
                ]
            }
        }
        let recursive = try bundle(["rbind", "rro"])
        let plain = try bundle(["rbind", "ro"])
        defer { [recursive, plain].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        for mode in ["sandbox", "vm"] {
            let result = try IsorunRunner.run(["run", "--mode", mode, recursive])
            #expect(result.status == 0, "\(mode): \(result.err)")
            #expect(result.out == "below\nbelow-read-only\ntop-read-only\ntmpfs-read-only\n", "\(mode): \(result.out)")
        }
        let result = try IsorunRunner.run(["run", "--mode", "sandbox", plain])
        #expect(result.out == "below\nbelow-writable\ntop-read-only\ntmpfs-writable\n", "plain ro: \(result.out)\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: scratch + "/w") && FileManager.default.fileExists(atPath: below + "/w"))
    }

    /// A tmpfs starts the same in the guest as in the sandbox: with `tmpcopyup` it holds the
    /// tree it covers, and without a `mode=` it has its mount point's mode, not 1777.
    @Test func aTmpfsStartsTheSameInTheGuest() throws {
        let script = "head -1 /etc/group; stat -c '%a %U' /etc /etc/passwd /var/fresh; echo new > /etc/new && cat /etc/new"
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script]) { config in
            config["mounts"] = (config["mounts"] as? [[String: Any]] ?? []) + [
                ["destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "tmpcopyup", "notmpcopyup", "tmpcopyup"]],
                ["destination": "/var/fresh", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]],
            ]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        for mode in ["sandbox", "vm"] {
            let result = try IsorunRunner.run(["run", "--mode", mode, bundle])
            #expect(result.status == 0, "\(mode): \(result.err)")
            #expect(result.out == "root:x:0:\n755 root\n644 root\n755 root\nnew\n", "\(mode): \(result.out)")
        }
    }

    @Test func bindMountsWithTheStockKernelAreAOneLineError() throws {
        guard let environment = try VMSupport.stockKernelEnvironment(for: "stock-kernel bind mount test") else { return }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["true"]) { config in
            config["mounts"] = [["destination": "/root", "type": "bind", "source": "/tmp", "options": ["bind"]]]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = IsorunRunner.finish(try IsorunRunner.start(["run", "--mode", "vm", bundle], environment: environment))
        #expect(result.status == 125)
        #expect(result.err.contains("bind mounts in VM mode need isorun's own guest kernel"), "\(result.err)")
        #expect(result.err.filter { $0 == "\n" }.count == 1, "\(result.err)")
    }

    /// A missing source is the bundle's fault, named as the sandbox names it.
    @Test func aMissingBindSourceIsAOneLineError() throws {
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["true"]) { config in
            config["mounts"] = [["destination": "/root", "type": "bind", "source": "/no/such/source", "options": ["bind"]]]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", "vm", bundle])
        #expect(result.status == 125)
        #expect(result.err == "isorun: \(bundle)/config.json: mounts[0].source: /no/such/source does not exist\n", "\(result.err)")
    }
}
