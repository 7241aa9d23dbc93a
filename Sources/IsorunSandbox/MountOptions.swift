import Glibc
import IsorunSys

/// OCI mount `options` split into mount(2) flags, propagation and fs data,
/// per the table in the spec's config.md (the same words mount(8) takes).
struct MountOptions: Equatable {
    var flags: UInt = 0
    var clearedFlags: UInt = 0
    var propagation: UInt = 0
    var data: [String] = []
    var isBind = false
    var isRecursive = false
    /// `idmap`/`ridmap`: show the owners through the mount's (or the container's) id mappings.
    var isIdmapped = false
    var isRecursivelyIdmapped = false
    /// The `r`-prefixed options (`rro`, `rnosuid`, …): mount_setattr(2)'s MOUNT_ATTR_* bits
    /// set and cleared on the mount and every mount below it.
    var recursiveSet: UInt64 = 0
    var recursiveClear: UInt64 = 0
    /// `tmpcopyup` (runc's and crun's, on every podman --tmpfs): a tmpfs starts with the
    /// contents of the directory it covers.
    var copyUp = false

    // Ordered pairs searched in a line rather than dictionaries: a `[String: …]` table
    // makes the runtime look up `String: Hashable` on first use, a scan of every
    // protocol conformance in the binary that costs more than all these comparisons.

    static let setting: KeyValuePairs<String, UInt> = [
        "ro": UInt(MS_RDONLY), "nosuid": UInt(MS_NOSUID), "nodev": UInt(MS_NODEV), "noexec": UInt(MS_NOEXEC),
        "sync": UInt(MS_SYNCHRONOUS), "dirsync": UInt(MS_DIRSYNC), "remount": UInt(MS_REMOUNT),
        "mand": UInt(MS_MANDLOCK), "noatime": UInt(MS_NOATIME), "nodiratime": UInt(MS_NODIRATIME),
        "relatime": UInt(MS_RELATIME), "strictatime": UInt(MS_STRICTATIME), "silent": UInt(MS_SILENT),
        "nosymfollow": MountFlag.noSymlinkFollow, "lazytime": MountFlag.lazyTime, "iversion": MountFlag.inodeVersion,
        "acl": MountFlag.posixACL,
    ]
    static let clearing: KeyValuePairs<String, UInt> = [
        "rw": UInt(MS_RDONLY), "suid": UInt(MS_NOSUID), "dev": UInt(MS_NODEV), "exec": UInt(MS_NOEXEC),
        "async": UInt(MS_SYNCHRONOUS), "nomand": UInt(MS_MANDLOCK), "atime": UInt(MS_NOATIME),
        "diratime": UInt(MS_NODIRATIME), "norelatime": UInt(MS_RELATIME), "loud": UInt(MS_SILENT),
        "symfollow": MountFlag.noSymlinkFollow, "nolazytime": MountFlag.lazyTime, "noiversion": MountFlag.inodeVersion,
        "noacl": MountFlag.posixACL, "nostrictatime": UInt(MS_STRICTATIME),
    ]
    /// runtime-spec's recursive options as (set, clear) MOUNT_ATTR_* bits. An atime mode
    /// clears the whole atime field and sets its value (relatime is 0), as the kernel asks.
    static let recursive: KeyValuePairs<String, (set: UInt64, clear: UInt64)> = [
        "rro": (MountAttribute.readOnly, 0), "rrw": (0, MountAttribute.readOnly),
        "rnosuid": (MountAttribute.noSetuid, 0), "rsuid": (0, MountAttribute.noSetuid),
        "rnodev": (MountAttribute.noDevices, 0), "rdev": (0, MountAttribute.noDevices),
        "rnoexec": (MountAttribute.noExec, 0), "rexec": (0, MountAttribute.noExec),
        "rnodiratime": (MountAttribute.noDirectoryAtime, 0), "rdiratime": (0, MountAttribute.noDirectoryAtime),
        "rnosymfollow": (MountAttribute.noSymlinkFollow, 0), "rsymfollow": (0, MountAttribute.noSymlinkFollow),
        "rnoatime": (MountAttribute.noAtime, MountAttribute.atimeField),
        "rstrictatime": (MountAttribute.strictAtime, MountAttribute.atimeField),
        "rrelatime": (0, MountAttribute.atimeField), "ratime": (0, MountAttribute.atimeField),
        "rnorelatime": (0, MountAttribute.atimeField), "rnostrictatime": (0, MountAttribute.atimeField),
    ]
    static let propagations: KeyValuePairs<String, UInt> = [
        "private": UInt(MS_PRIVATE), "rprivate": UInt(MS_PRIVATE | MS_REC),
        "shared": UInt(MS_SHARED), "rshared": UInt(MS_SHARED | MS_REC),
        "slave": UInt(MS_SLAVE), "rslave": UInt(MS_SLAVE | MS_REC),
        "unbindable": UInt(MS_UNBINDABLE), "runbindable": UInt(MS_UNBINDABLE | MS_REC),
    ]

    init(_ options: [String]) {
        for option in options {
            if option == "bind" {
                isBind = true
            } else if option == "rbind" {
                isBind = true
                isRecursive = true
            } else if option == "tmpcopyup" || option == "notmpcopyup" {
                copyUp = option == "tmpcopyup"
            } else if option == "idmap" || option == "ridmap" {
                isIdmapped = true
                isRecursivelyIdmapped = option == "ridmap"
            } else if let flag = MountOptions.value(of: option, in: MountOptions.setting) {
                flags |= flag
                clearedFlags &= ~flag
            } else if let flag = MountOptions.value(of: option, in: MountOptions.clearing) {
                flags &= ~flag
                clearedFlags |= flag
            } else if let propagation = MountOptions.value(of: option, in: MountOptions.propagations) {
                self.propagation = propagation
            } else if let bits = MountOptions.recursive.first(where: { $0.key == option })?.value {
                // The later option wins, as with the plain flags.
                recursiveSet = recursiveSet & ~bits.clear & ~bits.set | bits.set
                recursiveClear = recursiveClear & ~bits.set | bits.clear
            } else if option != "defaults" {
                data.append(option)
            }
        }
    }

    /// Propagation parsed from `linux.rootfsPropagation`.
    static func rootfsPropagation(_ value: String?) -> UInt? {
        guard let value else { return 0 }
        return self.value(of: value, in: propagations)
    }

    static func value(of name: String, in table: KeyValuePairs<String, UInt>) -> UInt? {
        table.first { $0.key == name }?.value
    }
}

/// mount(2) flags newer than the C library's headers some hosts build with.
enum MountFlag {
    static let noSymlinkFollow: UInt = 256        // MS_NOSYMFOLLOW, Linux 5.10
    static let posixACL: UInt = 1 << 16           // MS_POSIXACL
    static let inodeVersion: UInt = 1 << 23       // MS_I_VERSION
    static let lazyTime: UInt = 1 << 25           // MS_LAZYTIME
}

/// mount_setattr(2)'s MOUNT_ATTR_* bits (linux/mount.h).
enum MountAttribute {
    static let readOnly: UInt64 = 0x1
    static let noSetuid: UInt64 = 0x2
    static let noDevices: UInt64 = 0x4
    static let noExec: UInt64 = 0x8
    static let atimeField: UInt64 = 0x70
    static let noAtime: UInt64 = 0x10
    static let strictAtime: UInt64 = 0x20
    static let noDirectoryAtime: UInt64 = 0x80
    static let noSymlinkFollow: UInt64 = 0x200000
}
