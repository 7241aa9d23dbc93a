import CIsorunInit

/// Makes a disk the root filesystem when the rootfs is too large for the initramfs.
///
/// The image is read-only (erofs); unless the bundle asks for a read-only root, a
/// tmpfs overlay on top makes it writable the way a container's root is, with the
/// writes kept in guest RAM and gone with the VM. The initramfs cannot be unmounted
/// (it is the kernel's rootfs), so the new root is moved over it and entered with
/// chroot, as switch_root does; /proc, /sys and /dev move along.
enum RootSwitch {
    static func mount(_ device: String, filesystem: String, readOnly: Bool) {
        let top = "/.isorun/root"
        mkdir(top, 0o755)
        if readOnly {
            mountReadOnly(device, on: top, filesystem: filesystem)
        } else {
            let lower = "/.isorun/lower", scratch = "/.isorun/rw"
            for directory in [lower, scratch] { mkdir(directory, 0o755) }
            mountReadOnly(device, on: lower, filesystem: filesystem)
            check(CIsorunInit.mount("tmpfs", scratch, "tmpfs", 0, "mode=0755"), "mount tmpfs on \(scratch)")
            for directory in ["\(scratch)/upper", "\(scratch)/work"] { mkdir(directory, 0o755) }
            let options = "lowerdir=\(lower),upperdir=\(scratch)/upper,workdir=\(scratch)/work"
            check(CIsorunInit.mount("overlay", top, "overlay", 0, options), "mount overlay on \(top)")
        }
        for directory in ["/proc", "/sys", "/dev"] {
            mkdir(top + directory, 0o755)
            check(CIsorunInit.mount(directory, top + directory, nil, UInt(MS_MOVE), nil), "move \(directory)")
        }
        check(chdir(top), "chdir \(top)")
        check(CIsorunInit.mount(top, "/", nil, UInt(MS_MOVE), nil), "move \(top) to /")
        check(chroot("."), "chroot")
        check(chdir("/"), "chdir /")
    }

    /// "auto" (a bundle's own `vm.image`) tries the filesystems the guest kernel has.
    private static func mountReadOnly(_ device: String, on target: String, filesystem: String) {
        let candidates = filesystem == "auto" ? ["erofs", "ext4"] : [filesystem]
        for type in candidates where CIsorunInit.mount(device, target, type, UInt(MS_RDONLY), nil) == 0 { return }
        GuestInit.fail("mount \(device) (\(candidates.joined(separator: " or "))) on \(target): \(GuestInit.errnoText())")
    }

    /// A tmpfs from the bundle's mounts. Mount flags in `options` become MS_ flags; the
    /// rest (mode=, size=) is tmpfs's own data. Mounted before the root goes read-only. As in
    /// the sandbox: without a `mode=` it takes its mount point's mode, and `tmpcopyup` starts
    /// it with the tree it covers.
    static func mountTmpfs(on destination: String, options: String) {
        var flags: UInt = 0
        var data: [Substring] = []
        var copyUp = false
        for option in options.split(separator: ",") {
            if option == "tmpcopyup" { copyUp = true } else if let flag = GuestMountFlags.flag(named: option) { flags |= flag } else { data.append(option) }
        }
        mkdir(destination, 0o755)
        var point = stat()
        if !data.contains(where: { $0.hasPrefix("mode=") }) && stat(destination, &point) == 0 {
            data.insert(Substring("mode=" + String(point.st_mode & 0o7777, radix: 8)), at: 0)
        }
        let covered = copyUp ? isorun_guest_open(destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1
        if copyUp && covered < 0 { GuestInit.fail("tmpcopyup: open \(destination): \(GuestInit.errnoText())") }
        check(CIsorunInit.mount("tmpfs", destination, "tmpfs", flags, data.joined(separator: ",")), "mount tmpfs on \(destination)")
        guard covered >= 0 else { return }
        let mounted = isorun_guest_open(destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        var failed = [CChar](repeating: 0, count: 256)
        let rc = mounted < 0 ? -isorun_guest_errno() : isorun_copy_tree(covered, mounted, &failed, UInt(failed.count))
        if rc < 0 {
            let entry = failed.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            GuestInit.fail("tmpcopyup into \(destination)\(entry.isEmpty ? "" : " (" + entry + ")"): \(GuestInit.errnoText())")
        }
        close(mounted)
        close(covered)
    }

    /// `root.readonly` for a rootfs that is the initramfs itself.
    static func remountReadOnly() {
        check(CIsorunInit.mount(nil, "/", nil, UInt(MS_REMOUNT | MS_RDONLY), nil), "remount / read-only")
    }

    private static func check(_ result: Int32, _ what: String) {
        if result != 0 { GuestInit.fail("\(what): \(GuestInit.errnoText())") }
    }
}
