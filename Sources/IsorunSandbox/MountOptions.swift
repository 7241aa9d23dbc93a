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

    static let setting: [String: UInt] = [
        "ro": UInt(MS_RDONLY), "nosuid": UInt(MS_NOSUID), "nodev": UInt(MS_NODEV), "noexec": UInt(MS_NOEXEC),
        "sync": UInt(MS_SYNCHRONOUS), "dirsync": UInt(MS_DIRSYNC), "remount": UInt(MS_REMOUNT),
        "mand": UInt(MS_MANDLOCK), "noatime": UInt(MS_NOATIME), "nodiratime": UInt(MS_NODIRATIME),
        "relatime": UInt(MS_RELATIME), "strictatime": UInt(MS_STRICTATIME), "silent": UInt(MS_SILENT),
    ]
    static let clearing: [String: UInt] = [
        "rw": UInt(MS_RDONLY), "suid": UInt(MS_NOSUID), "dev": UInt(MS_NODEV), "exec": UInt(MS_NOEXEC),
        "async": UInt(MS_SYNCHRONOUS), "nomand": UInt(MS_MANDLOCK), "atime": UInt(MS_NOATIME),
        "diratime": UInt(MS_NODIRATIME), "norelatime": UInt(MS_RELATIME), "loud": UInt(MS_SILENT),
    ]
    static let propagations: [String: UInt] = [
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
            } else if let flag = MountOptions.setting[option] {
                flags |= flag
                clearedFlags &= ~flag
            } else if let flag = MountOptions.clearing[option] {
                flags &= ~flag
                clearedFlags |= flag
            } else if let propagation = MountOptions.propagations[option] {
                self.propagation = propagation
            } else if option != "defaults" {
                data.append(option)
            }
        }
    }

    /// Propagation parsed from `linux.rootfsPropagation`.
    static func rootfsPropagation(_ value: String?) -> UInt? {
        guard let value else { return 0 }
        return propagations[value]
    }
}
