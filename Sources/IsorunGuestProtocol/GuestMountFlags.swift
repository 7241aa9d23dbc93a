/// The mount(2) flags a tmpfs of the bundle's may ask the guest for, by the option names
/// config.json uses. The host sends only these names and the tmpfs's own data (GuestMounts),
/// so both sides read one table. Numbers, not the C library's names: isorun-init's libc
/// headers need not have the newer ones.
public enum GuestMountFlags {
    public static let byName: [(name: String, flag: UInt)] = [
        ("ro", 1), ("nosuid", 2), ("nodev", 4), ("noexec", 8), ("sync", 16), ("mand", 64), ("dirsync", 128),
        ("nosymfollow", 256), ("noatime", 1024), ("nodiratime", 2048), ("silent", 32768), ("acl", 1 << 16),
        ("relatime", 1 << 21), ("iversion", 1 << 23), ("strictatime", 1 << 24), ("lazytime", 1 << 25),
    ]

    /// The flag `name` sets, or nil for the filesystem's own data (`size=`, `mode=`).
    public static func flag(named name: Substring) -> UInt? {
        for entry in byName where entry.name.utf8.elementsEqual(name.utf8) { return entry.flag }
        return nil
    }
}
