/// CLONE_NEW* values (linux/sched.h): Swift's Glibc module does not export them.
public enum NamespaceFlags {
    public static let mount: Int32 = 0x0002_0000
    public static let cgroup: Int32 = 0x0200_0000
    public static let uts: Int32 = 0x0400_0000
    public static let ipc: Int32 = 0x0800_0000
    public static let user: Int32 = 0x1000_0000
    public static let pid: Int32 = 0x2000_0000
    public static let network: Int32 = 0x4000_0000
    public static let time: Int32 = 0x0000_0080
}

/// personality(2) execution domains (linux/personality.h) that the runtime spec names.
public enum PersonalityDomain {
    public static let linux: Int32 = 0x0000
    /// PER_LINUX32: `uname -m` answers i686, as 32-bit builds expect.
    public static let linux32: Int32 = 0x0008
}
