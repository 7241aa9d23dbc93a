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

    // Ordered pairs searched in a line rather than dictionaries: a `[String: …]` table
    // makes the runtime look up `String: Hashable` on first use, a scan of every
    // protocol conformance in the binary that costs more than all these comparisons.

    static let setting: KeyValuePairs<String, UInt> = [
        "ro": UInt(MS_RDONLY), "nosuid": UInt(MS_NOSUID), "nodev": UInt(MS_NODEV), "noexec": UInt(MS_NOEXEC),
        "sync": UInt(MS_SYNCHRONOUS), "dirsync": UInt(MS_DIRSYNC), "remount": UInt(MS_REMOUNT),
        "mand": UInt(MS_MANDLOCK), "noatime": UInt(MS_NOATIME), "nodiratime": UInt(MS_NODIRATIME),
        "relatime": UInt(MS_RELATIME), "strictatime": UInt(MS_STRICTATIME), "silent": UInt(MS_SILENT),
    ]
    static let clearing: KeyValuePairs<String, UInt> = [
        "rw": UInt(MS_RDONLY), "suid": UInt(MS_NOSUID), "dev": UInt(MS_NODEV), "exec": UInt(MS_NOEXEC),
        "async": UInt(MS_SYNCHRONOUS), "nomand": UInt(MS_MANDLOCK), "atime": UInt(MS_NOATIME),
        "diratime": UInt(MS_NODIRATIME), "norelatime": UInt(MS_RELATIME), "loud": UInt(MS_SILENT),
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
